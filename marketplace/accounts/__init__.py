"""Accounts: users, organisations, roles, invitations and permissions."""
