"""Failed-login throttling per account and per client, in the rate limiter's storage.

Flask-Limiter's decorator counts requests per client; brute force against one account from many
addresses, and the right password arriving after a burst of wrong ones, need more: we count *failed*
logins under two keys (the e-mail address and the client address) and refuse further attempts on
either key with a 429 that says when to retry. The counters live in ``RATELIMIT_STORAGE_URL`` — with
the default ``memory://`` each gunicorn worker counts alone; with Redis all workers share one count.
"""

from __future__ import annotations

import hashlib
import math
import time

from flask import Flask, current_app
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter

NAMESPACE = "login-failures"


class LoginThrottle:
    def __init__(self, storage_uri: str):
        self.storage = storage_from_string(storage_uri)
        try:
            self.strategy: RateLimiter = MovingWindowRateLimiter(self.storage)
        except NotImplementedError:  # e.g. memcached: a fixed window is the best it can do
            self.strategy = FixedWindowRateLimiter(self.storage)

    @staticmethod
    def _keys(email: str, client: str) -> list[tuple[str, str]]:
        # Hash the address so the shared store holds no e-mail addresses.
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return [("account", account), ("client", client or "unknown")]

    def retry_after(self, limit: str, email: str, client: str) -> int | None:
        """Seconds until a locked account or client may try again, or None when it may try now."""
        item = parse(limit)
        waits = []
        for kind, key in self._keys(email, client):
            if not self.strategy.test(item, NAMESPACE, kind, key):
                reset_at = self.strategy.get_window_stats(item, NAMESPACE, kind, key).reset_time
                waits.append(max(1, math.ceil(reset_at - time.time())))
        return max(waits) if waits else None

    def failed(self, limit: str, email: str, client: str) -> None:
        item = parse(limit)
        for kind, key in self._keys(email, client):
            self.strategy.hit(item, NAMESPACE, kind, key)


def login_throttle(app: Flask | None = None) -> LoginThrottle:
    """This app's throttle, made on first use from its storage setting."""
    app = app or current_app._get_current_object()
    uri = app.config["RATELIMIT_STORAGE_URI"]
    throttle = app.extensions.get("login_throttle")
    if throttle is None or throttle[0] != uri:
        throttle = app.extensions["login_throttle"] = (uri, LoginThrottle(uri))
    return throttle[1]
