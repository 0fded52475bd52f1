"""Who may do what: one map from capability to the roles that hold it.

Views (``capability_required``), services (``require_capability``), menus (the ``can`` template
global) and, later, API tokens all read this map; a role check anywhere else is a bug. Rules about
one object (the owner of this listing, a member of that deal) stay next to the feature's model, in
its ``permissions.py``, and start from a capability here.

Adding a feature: add its capabilities below with the roles that hold them; the capability page in
the README is generated from nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import Flask, abort
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.accounts.roles import Role
from marketplace.core.errors import PermissionDenied


@dataclass(frozen=True)
class Grant:
    roles: frozenset[str]
    # Non-admin holders must also administer their organisation (e.g. bulk import for the whole org).
    org_admin_only: bool = False


def _grant(*roles: str, org_admin_only: bool = False) -> Grant:
    return Grant(frozenset(roles) | {Role.ADMIN}, org_admin_only)


CAPABILITIES: dict[str, Grant] = {
    "listing.create_achievement": _grant(Role.RESEARCHER),
    "listing.create_demand": _grant(Role.ENTERPRISE),
    "listing.import": _grant(Role.RESEARCHER, Role.ENTERPRISE, org_admin_only=True),
    "listing.review": _grant(),
    "challenge.apply": Grant(frozenset({Role.RESEARCHER})),
    "match.follow": _grant(Role.BROKER),
    # Any signed-in user who is not an admin may apply to be certified as a broker.
    "broker.apply": Grant(frozenset(Role) - {Role.ADMIN}),
    "broker.certify": _grant(),
    # A suspended broker keeps the role; deals.permissions.is_active_broker also consults the profile.
    "deal.work": _grant(Role.BROKER),
    "deal.view_all": _grant(),
    "deal.assign": _grant(),
    "deal.create": _grant(Role.BROKER),
    "deal.pipeline": _grant(Role.BROKER),
    "reward.manage": _grant(),
    "organisation.verify": _grant(),
    "user.manage": _grant(),
    "audit.read": _grant(),
    "admin.console": _grant(),
    "contract.manage": _grant(),
    "contract.import": _grant(),
    "stats.view": _grant(),
    "stats.manage": _grant(),
}


def has_capability(user, name: str) -> bool:
    """Whether ``user`` holds capability ``name`` (an unknown name is a programming error)."""
    grant = CAPABILITIES[name]
    if user is None or not user.is_authenticated or not getattr(user, "active", True):
        return False
    if user.role not in grant.roles:
        return False
    if grant.org_admin_only and user.role != Role.ADMIN:
        return bool(user.is_org_admin and user.organisation_id is not None)
    return True


def require_capability(user, name: str, message: str | None = None) -> None:
    """Service guard: PermissionDenied (403 with a message) unless ``user`` holds ``name``."""
    if not has_capability(user, name):
        raise PermissionDenied(message or _("您没有权限执行此操作"))


def capability_required(name: str):
    """View decorator: signed in (else the login page) and holding ``name`` (else 403)."""
    CAPABILITIES[name]  # fail at import time on a misspelt capability

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not has_capability(current_user, name):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def roles_holding(name: str) -> list[str]:
    """The roles that hold ``name``, in the roles' declared order (for the README and admin pages)."""
    return [role.value for role in Role if role in CAPABILITIES[name].roles]


def init_app(app: Flask) -> None:
    app.jinja_env.globals["can"] = lambda name: has_capability(current_user, name)
