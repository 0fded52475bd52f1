"""Background work: one worker process runs every feature's periodic job in turn."""
