"""Platform administration: the review queue, organisation verification, user roles, audit log."""
