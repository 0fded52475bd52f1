"""The one way a form post runs a service call from a view."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import flash

from marketplace.core.errors import ServiceError
from marketplace.extensions import db

T = TypeVar("T")


def perform(action: Callable[[], T], success: str | Callable[[T], str] | None = None) -> T | None:
    """Run ``action``; commit and flash ``success``, or roll back and flash the rule it broke.

    Returns the action's result, or None when it was refused. Permission failures are not a
    message to flash: they propagate and the user gets the 403 page.
    """
    try:
        result = action()
    except ServiceError as error:
        db.session.rollback()
        if error.status_code in (401, 403):
            raise
        flash(error.message, "danger")
        return None
    db.session.commit()
    if success is not None:
        flash(success(result) if callable(success) else success, "success")
    return result if result is not None else True
