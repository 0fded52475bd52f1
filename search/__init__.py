"""Search and matching engine (see the search issue). A library: it never imports ``marketplace``."""
