"""The capability map is the one place that says who may do what; views, services and menus read it."""

from __future__ import annotations

import pytest

from marketplace.accounts.capabilities import CAPABILITIES, has_capability, roles_holding
from marketplace.accounts.roles import Role
from tests.factories import login, make_user


@pytest.mark.parametrize(
    ("capability", "roles"),
    [
        ("listing.create_achievement", ["researcher", "admin"]),
        ("listing.create_demand", ["enterprise", "admin"]),
        ("listing.import", ["researcher", "enterprise", "admin"]),
        ("listing.review", ["admin"]),
        ("match.follow", ["broker", "admin"]),
        ("challenge.apply", ["researcher"]),
    ],
)
def test_capability_map_grants_the_roles_the_ui_promises(capability, roles):
    assert roles_holding(capability) == roles


def test_org_admin_only_capability_needs_an_organisation_admin(app):
    member = make_user(Role.RESEARCHER, org_admin=False)
    org_admin = make_user(Role.RESEARCHER)
    assert not has_capability(member, "listing.import")
    assert has_capability(org_admin, "listing.import")


def test_deactivated_user_holds_no_capability(app):
    admin = make_user(Role.ADMIN, org=None, active=False)
    assert not any(has_capability(admin, name) for name in CAPABILITIES)


@pytest.mark.parametrize("role", [Role.INVESTOR, Role.SERVICE_PROVIDER])
def test_import_page_refused_to_investor_and_service_provider_org_admins(client, role):
    login(client, make_user(role))
    assert client.get("/listings/import").status_code == 403
    assert "批量导入" not in client.get("/dashboard").get_data(as_text=True)


def test_import_menu_item_shown_to_an_org_admin_who_may_import(client):
    login(client, make_user(Role.ENTERPRISE))
    assert "批量导入" in client.get("/dashboard").get_data(as_text=True)
