"""The portal: home page, the signed-in user's dashboard, language switch and health check."""
