"""Other features (search, deals) hook into listing changes through one signal, inside the transaction."""

from __future__ import annotations

import json

from marketplace.listings import services
from marketplace.listings.interchange import import_lines
from marketplace.listings.signals import listing_changed
from tests.factories import make_user


def test_listing_changed_fires_for_every_write_path_with_the_action(app):
    seen: list[tuple[int, str]] = []

    def receiver(listing, action):
        seen.append((listing.id, action))

    researcher, admin = make_user("researcher"), make_user("admin", org=None)
    with listing_changed.connected_to(receiver):
        listing = services.create_listing(
            researcher,
            "achievement",
            {"title": "海水淡化反渗透膜", "summary": "高通量抗污染", "industry": "seawater_ocean_energy"},
        )
        services.submit(researcher, listing)
        services.approve(admin, listing)
        services.update_listing(
            researcher,
            listing,
            {"title": "海水淡化反渗透膜（二代）", "summary": "高通量抗污染", "industry": "seawater_ocean_energy"},
        )
        services.approve(admin, listing)
        services.archive(researcher, listing)
        record = {
            "kind": "demand",
            "external_id": "D-1",
            "title": "浓盐水处理",
            "description": "零排放",
            "industry": "green_low_carbon",
        }
        import_lines([json.dumps(record, ensure_ascii=False)])
    actions = [action for _, action in seen]
    assert actions == ["created", "submitted", "approved", "revision_submitted", "approved", "archived", "imported"]
    assert {listing_id for listing_id, _ in seen[:6]} == {listing.id}
