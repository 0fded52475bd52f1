"""Saved searches: a user keeps a search and is told when new listings match it."""
