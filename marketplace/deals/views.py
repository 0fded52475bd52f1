"""Routes: filled in by the deals work."""

from marketplace.deals.blueprint import bp  # noqa: F401
