"""Bulk import and export in the interchange format."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.listings.interchange import export_lines, import_lines
from marketplace.listings.models import Listing, ListingStatus
from tests.factories import login, make_listing, make_org, make_user

MATCHING_DEV = Path(__file__).parent / "fixtures" / "matching-dev"  # copy of ../shared/datasets/matching-dev

ACHIEVEMENT = {
    "kind": "achievement",
    "external_id": "OUC-2024-017",
    "title": "海藻酸钙复合医用敷料制备技术",
    "summary": "可降解止血敷料",
    "keywords": ["海藻酸盐"],
    "industry": "marine_biomedicine",
    "trl": 6,
    "ip_type": "invention_patent",
    "cooperation_modes": ["transfer", "license"],
    "price_cny": 1500000,
    "institution": "中国海洋大学",
    "district": "laoshan",
    "published_at": "2024-05-01",
}
DEMAND = {
    "kind": "demand",
    "external_id": "HX-D-0042",
    "title": "冷链运输车厢高效隔热材料",
    "description": "需求背景",
    "industry": "new_materials",
    "budget_min_cny": "500000.50",
    "budget_max_cny": 2000000,
    "cooperation_modes": ["joint_development"],
    "min_trl": 5,
    "enterprise": "青岛某冷链装备有限公司",
    "district": "西海岸新区",
    "deadline": "2026-12-31",
    "challenge": False,
    "bounty_cny": None,
}


def lines(*records) -> list[str]:
    return [json.dumps(record, ensure_ascii=False) + "\n" for record in records]


def count(**criteria) -> int:
    return db.session.scalar(select(func.count()).select_from(Listing).filter_by(**criteria))


def test_import_matching_dev_dataset_imports_every_record_and_is_idempotent(app):
    files = [MATCHING_DEV / "achievements.jsonl", MATCHING_DEV / "demands.jsonl"]
    expected = {path.name: sum(1 for line in path.open(encoding="utf-8") if line.strip()) for path in files}
    for path in files:
        with path.open(encoding="utf-8") as handle:
            report = import_lines(handle)
        assert report.rejected == []
        assert report.created == expected[path.name]
    assert count(kind="achievement") == expected["achievements.jsonl"]
    assert count(kind="demand") == expected["demands.jsonl"]
    for path in files:
        with path.open(encoding="utf-8") as handle:
            again = import_lines(handle)
        assert (again.created, again.updated, again.unchanged) == (0, 0, expected[path.name])


def test_import_values_are_stored_as_codes_and_decimals(app):
    import_lines(lines(ACHIEVEMENT, DEMAND))
    achievement = db.session.scalar(select(Listing).filter_by(external_id="OUC-2024-017"))
    demand = db.session.scalar(select(Listing).filter_by(external_id="HX-D-0042"))
    assert achievement.status == ListingStatus.PUBLISHED
    assert achievement.price_cny == Decimal("1500000.00")
    assert achievement.published_at.date().isoformat() == "2024-05-01"
    assert demand.budget_min_cny == Decimal("500000.50")
    assert demand.district == "huangdao"  # 西海岸新区 is normalised to its code
    assert demand.deadline.isoformat() == "2026-12-31"


def test_import_changed_record_updates_in_place(app):
    import_lines(lines(ACHIEVEMENT))
    report = import_lines(lines({**ACHIEVEMENT, "title": "新标题", "trl": 7}))
    assert (report.created, report.updated) == (0, 1)
    listing = db.session.scalar(select(Listing).filter_by(external_id="OUC-2024-017"))
    assert (listing.title, listing.trl) == ("新标题", 7)
    assert count() == 1


def test_import_bad_lines_reported_with_line_numbers_and_others_saved(app):
    payload = (
        lines(ACHIEVEMENT)
        + ["{not json\n", "\n"]
        + lines(
            {**DEMAND, "external_id": "D-2", "industry": "space_mining"},
            {**DEMAND, "external_id": "D-3", "min_trl": 12, "budget_min_cny": 9, "budget_max_cny": 1},
            {"kind": "patent", "external_id": "X"},
            {**DEMAND, "external_id": "D-4", "title": ""},
            {**DEMAND, "external_id": "D-5", "colour": "blue"},
            DEMAND,
        )
    )
    report = import_lines(payload)
    rejected = {line.line: line for line in report.rejected}
    assert sorted(rejected) == [2, 4, 5, 6, 7, 8]
    assert "JSON" in rejected[2].reason
    assert "space_mining" in rejected[4].reason and rejected[4].external_id == "D-2"
    assert "min_trl" in rejected[5].reason and "budget_max_cny" in rejected[5].reason
    assert "kind" in rejected[6].reason
    assert "title" in rejected[7].reason
    assert "colour" in rejected[8].reason
    assert report.created == 2
    assert count() == 2


def test_import_all_or_nothing_saves_nothing_when_a_line_fails(app):
    import_lines(lines(ACHIEVEMENT))
    report = import_lines(lines({**ACHIEVEMENT, "title": "改过的"}, {**DEMAND, "industry": "bad"}), all_or_nothing=True)
    assert report.aborted and len(report.rejected) == 1
    assert db.session.scalar(select(Listing.title).filter_by(external_id="OUC-2024-017")) == ACHIEVEMENT["title"]
    assert count() == 1


def test_import_dry_run_reports_but_saves_nothing(app):
    report = import_lines(lines(ACHIEVEMENT, DEMAND), dry_run=True)
    assert report.created == 2 and report.dry_run
    assert count() == 0


def test_import_status_submitted_sends_records_to_review(app):
    import_lines(lines(ACHIEVEMENT), status=ListingStatus.SUBMITTED)
    assert count(status=ListingStatus.SUBMITTED) == 1


def test_import_links_registered_organisation_by_name(app):
    org = make_org("institution", name="中国海洋大学")
    import_lines(lines(ACHIEVEMENT))
    assert db.session.scalar(select(Listing.organisation_id)) == org.id


def test_export_round_trip_reimports_unchanged(app):
    import_lines(lines(ACHIEVEMENT, DEMAND))
    exported = list(export_lines())
    records = [json.loads(line) for line in exported]
    assert {record["external_id"] for record in records} == {"OUC-2024-017", "HX-D-0042"}
    demand = next(record for record in records if record["kind"] == "demand")
    assert demand["budget_min_cny"] == "500000.50" and demand["budget_max_cny"] == 2000000
    assert demand["enterprise"] == "青岛某冷链装备有限公司"
    report = import_lines(exported)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)


def test_cli_import_prints_report_and_fails_on_rejected_lines(runner, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text("".join(lines(ACHIEVEMENT, DEMAND)), encoding="utf-8")
    result = runner.invoke(args=["listings", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(lines(ACHIEVEMENT)) + "oops\n", encoding="utf-8")
    result = runner.invoke(args=["listings", "import", str(bad), "--json-report"])
    assert result.exit_code == 1
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["unchanged"] == 1 and report["rejected"][0]["line"] == 2


def test_cli_export_writes_jsonl_for_one_kind(runner, tmp_path):
    import_lines(lines(ACHIEVEMENT, DEMAND))
    target = tmp_path / "out.jsonl"
    result = runner.invoke(args=["listings", "export", "--kind", "demand", "--output", str(target)])
    assert result.exit_code == 0, result.output
    exported = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [record["external_id"] for record in exported] == ["HX-D-0042"]


def _upload(client, payload: str, **options):
    data = {"file": (io.BytesIO(payload.encode("utf-8")), "listings.jsonl")}
    data.update({key: "y" for key, value in options.items() if value})
    return client.post("/listings/import", data=data, content_type="multipart/form-data")


def test_upload_page_admin_imports_published_with_report(client):
    login(client, make_user("admin", org=None))
    response = _upload(client, "".join(lines(ACHIEVEMENT)) + "{broken\n")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "导入报告" in page and "JSON" in page
    assert count(status=ListingStatus.PUBLISHED) == 1


def test_upload_page_org_admin_imports_own_listings_into_review(client):
    researcher = make_user("researcher")
    login(client, researcher)
    _upload(client, "".join(lines(ACHIEVEMENT)))
    listing = db.session.scalar(select(Listing))
    assert listing.status == ListingStatus.SUBMITTED
    assert listing.organisation_id == researcher.organisation_id
    assert listing.org_name == researcher.organisation.name
    assert listing.owner_id == researcher.id


def test_upload_page_org_admin_cannot_overwrite_another_organisations_listing(client):
    import_lines(lines(ACHIEVEMENT))
    login(client, make_user("researcher"))
    response = _upload(client, "".join(lines({**ACHIEVEMENT, "title": "抢占"})))
    assert "其他机构" in response.get_data(as_text=True)
    assert db.session.scalar(select(Listing.title)) == ACHIEVEMENT["title"]


def test_upload_page_members_without_admin_rights_get_403(client):
    login(client, make_user("researcher", org_admin=False))
    assert _upload(client, "".join(lines(ACHIEVEMENT))).status_code == 403
    assert count() == 0


def test_upload_page_non_utf8_file_reports_the_line_and_saves_nothing(client):
    login(client, make_user("admin", org=None))
    data = {"file": (io.BytesIO(json.dumps(ACHIEVEMENT, ensure_ascii=False).encode("gbk")), "gbk.jsonl")}
    response = client.post("/listings/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    assert "第 1 行不是 UTF-8 编码" in response.get_data(as_text=True)
    assert count() == 0


# ---- findings: imports through the services, on one row-import engine -----------------------------


def _records(n: int, prefix: str = "BULK") -> list[dict]:
    return [{**ACHIEVEMENT, "external_id": f"{prefix}-{i}", "title": f"批量成果{i}"} for i in range(1, n + 1)]


def _bad_byte_file(lines_total: int = 1100, bad_line: int = 1050) -> bytes:
    """Good UTF-8 lines, except one with a GBK-encoded title (a byte that is not UTF-8)."""
    out = []
    for number, record in enumerate(_records(lines_total), start=1):
        text = json.dumps(record, ensure_ascii=False) + "\n"
        out.append(text.encode("gbk") if number == bad_line else text.encode("utf-8"))
    return b"".join(out)


def _upload_bytes(client, payload: bytes, **options):
    data = {"file": (io.BytesIO(payload), "listings.jsonl")}
    data.update({key: "y" for key, value in options.items() if value})
    return client.post("/listings/import", data=data, content_type="multipart/form-data")


def test_upload_bad_byte_at_line_1050_without_options_saves_every_good_line_and_names_the_bad_one(app, client):
    app.config["IMPORT_INLINE_MAX_LINES"] = 5000
    login(client, make_user("admin", org=None))
    response = _upload_bytes(client, _bad_byte_file())
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "第 1050 行不是 UTF-8 编码" in page
    assert count() == 1099
    assert count(external_id="BULK-1050") == 0 and count(external_id="BULK-1100") == 1


def test_upload_bad_byte_file_dry_run_saves_nothing(app, client):
    app.config["IMPORT_INLINE_MAX_LINES"] = 5000
    login(client, make_user("admin", org=None))
    response = _upload_bytes(client, _bad_byte_file(), dry_run=True)
    page = response.get_data(as_text=True)
    assert "仅检查" in page and "第 1050 行不是 UTF-8 编码" in page
    db.session.rollback()
    assert count() == 0


def test_upload_bad_byte_file_all_or_nothing_saves_nothing(app, client):
    app.config["IMPORT_INLINE_MAX_LINES"] = 5000
    login(client, make_user("admin", org=None))
    response = _upload_bytes(client, _bad_byte_file(), all_or_nothing=True)
    page = response.get_data(as_text=True)
    assert "全部或不导入" in page and "第 1050 行不是 UTF-8 编码" in page
    db.session.rollback()
    assert count() == 0


def test_upload_org_admin_reimport_of_published_listing_goes_to_review_and_public_version_stays(client):
    researcher = make_user("researcher")
    listing = make_listing("achievement", owner=researcher, external_id="OUC-2024-017", title="公开的标题")
    login(client, researcher)
    response = _upload(client, "".join(lines({**ACHIEVEMENT, "title": "导入改过的标题"})))
    page = response.get_data(as_text=True)
    assert "修改待审核" in page
    db.session.expire_all()
    listing = db.session.get(Listing, listing.id)
    assert listing.title == "公开的标题" and listing.status == ListingStatus.PUBLISHED
    assert listing.pending_changes["title"] == "导入改过的标题"
    again = _upload(client, "".join(lines({**ACHIEVEMENT, "title": "导入改过的标题"})))
    assert "导入报告" in again.get_data(as_text=True)
    assert db.session.get(Listing, listing.id).title == "公开的标题"


def test_org_admin_reimport_same_revision_twice_counts_unchanged(app):
    researcher = make_user("researcher")
    make_listing("achievement", owner=researcher, external_id="OUC-2024-017", title="公开的标题")
    first = import_lines(lines({**ACHIEVEMENT, "title": "新"}), actor=researcher)
    second = import_lines(lines({**ACHIEVEMENT, "title": "新"}), actor=researcher)
    assert (first.sent_to_review, first.updated) == (1, 0)
    assert (second.sent_to_review, second.unchanged) == (0, 1)


def test_upload_enterprise_org_admin_achievement_rows_are_rejected_with_the_forms_reason(client):
    login(client, make_user("enterprise"))
    response = _upload(client, "".join(lines(ACHIEVEMENT, DEMAND)))
    page = response.get_data(as_text=True)
    assert "您的角色不能发布此类信息" in page
    assert count(kind="achievement") == 0
    assert count(kind="demand", status=ListingStatus.SUBMITTED) == 1


def test_upload_unverified_organisation_rows_are_saved_as_drafts_not_submitted(client):
    from marketplace.notifications.models import Notification

    make_user("admin", org=None)
    researcher = make_user("researcher", verified=False)
    login(client, researcher)
    response = _upload(client, "".join(lines(ACHIEVEMENT)))
    page = response.get_data(as_text=True)
    assert "尚未通过平台认证" in page and "草稿" in page
    listing = db.session.scalar(select(Listing))
    assert listing.status == ListingStatus.DRAFT
    assert listing.owner_id == researcher.id and listing.external_id == ACHIEVEMENT["external_id"]
    assert count(status=ListingStatus.SUBMITTED) == 0
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0  # nothing to review


def test_org_admin_import_tells_reviewers_once_per_file(app):
    from marketplace.notifications.models import Notification

    admin = make_user("admin", org=None)
    researcher = make_user("researcher")
    import_lines(lines(*_records(3)), actor=researcher)
    assert count(status=ListingStatus.SUBMITTED) == 3
    assert db.session.scalar(select(func.count()).select_from(Notification).filter_by(user_id=admin.id)) == 1


def test_upload_nan_infinity_and_huge_numbers_are_reported_per_line_without_500(client):
    login(client, make_user("admin", org=None))
    payload = (
        '{"kind": "demand", "external_id": "INF-1", "title": "t", "description": "d", '
        '"industry": "new_materials", "min_trl": Infinity}\n'
        '{"kind": "achievement", "external_id": "NAN-1", "title": "t", "summary": "s", '
        '"industry": "new_materials", "price_cny": NaN}\n'
        '{"kind": "achievement", "external_id": "BIG-1", "title": "t", "summary": "s", '
        '"industry": "new_materials", "trl": 1e999}\n'
        '{"kind": "achievement", "external_id": "BIG-2", "title": "t", "summary": "s", '
        '"industry": "new_materials", "price_cny": ' + "9" * 5000 + "}\n" + "".join(lines(ACHIEVEMENT))
    )
    response = _upload(client, payload)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Infinity" in page and "NaN" in page
    report = import_lines(payload.splitlines(keepends=True), dry_run=True)
    assert [line.line for line in report.rejected] == [1, 2, 3, 4]
    assert count() == 1


def test_import_repeated_external_id_in_one_file_is_reported_on_the_later_line(app):
    report = import_lines(lines(ACHIEVEMENT, DEMAND, {**ACHIEVEMENT, "title": "第二次出现"}))
    assert [(line.line, line.external_id) for line in report.rejected] == [(3, "OUC-2024-017")]
    assert "第 1 行" in report.rejected[0].reason
    assert db.session.scalar(select(Listing.title).filter_by(external_id="OUC-2024-017")) == ACHIEVEMENT["title"]


def test_import_lines_never_commits_the_caller_does(app):
    import_lines(lines(ACHIEVEMENT, DEMAND))
    db.session.rollback()
    assert count() == 0


def test_cli_import_status_accepts_documented_lowercase_values_in_any_case(runner, tmp_path):
    path = tmp_path / "review.jsonl"
    path.write_text("".join(lines(ACHIEVEMENT)), encoding="utf-8")
    result = runner.invoke(args=["listings", "import", str(path), "--status", "submitted"])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    assert count(status=ListingStatus.SUBMITTED) == 1
    path.write_text("".join(lines(DEMAND)), encoding="utf-8")
    result = runner.invoke(args=["listings", "import", str(path), "--status", "Published"])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    assert count(status=ListingStatus.PUBLISHED) == 1


def test_cli_import_commits_in_batches_and_reports_bad_bytes_by_line(runner, tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_bytes(_bad_byte_file(lines_total=1100, bad_line=1050))
    result = runner.invoke(args=["listings", "import", str(path), "--json-report"])
    assert result.exit_code == 1
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["created"] == 1099 and [line["line"] for line in report["rejected"]] == [1050]
    db.session.rollback()
    assert count() == 1099
