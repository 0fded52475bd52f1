"""The public JSON API for integrators (/api/v1); grows into its own issue."""
