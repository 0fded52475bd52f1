"""Signed, expiring tokens for the links we mail: password reset and e-mail verification.

Nothing is stored: a token is the user's id plus a value that changes once the token has done its job,
signed with the app's secret key. A reset token carries a fingerprint of the password hash, so it stops
working as soon as the password changes (single use); a verification token carries the address it was
sent to, so it cannot verify an address the user has since changed.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from marketplace.accounts.models import User
from marketplace.extensions import db

RESET_MAX_AGE = 60 * 60  # one hour
VERIFY_MAX_AGE = 3 * 24 * 60 * 60  # three days


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"marketplace.accounts.{purpose}")


def _fingerprint(password_hash: str) -> str:
    # The token is signed, not encrypted: never put the hash itself in it.
    return hashlib.sha256(password_hash.encode()).hexdigest()[:20]


def reset_token(user: User) -> str:
    return _serializer("reset").dumps([user.id, _fingerprint(user.password_hash)])


def user_for_reset_token(token: str) -> User | None:
    """The user a still-valid, still-unused reset token was made for, or None."""
    try:
        user_id, fingerprint = _serializer("reset").loads(token, max_age=RESET_MAX_AGE)
    except (BadSignature, TypeError, ValueError):  # SignatureExpired is a BadSignature
        return None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or fingerprint != _fingerprint(user.password_hash):
        return None
    return user


def verification_token(user: User) -> str:
    return _serializer("verify").dumps([user.id, user.email])


def user_for_verification_token(token: str) -> User | None:
    try:
        user_id, email = _serializer("verify").loads(token, max_age=VERIFY_MAX_AGE)
    except (BadSignature, TypeError, ValueError):
        return None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or user.email != email:
        return None
    return user
