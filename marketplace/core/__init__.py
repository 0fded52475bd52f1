"""Shared building blocks: model mixins, money, taxonomy codes, pagination, errors, audit trail."""
