"""Configuration: defaults in code, overridden by ``MARKETPLACE_*`` environment variables."""

from config.settings import ConfigError, load_config

__all__ = ["ConfigError", "load_config"]
