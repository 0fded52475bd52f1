"""Importing registration-office exports: formats, row reports, idempotency, the CLI, the web upload."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from marketplace.accounts.roles import Role
from marketplace.contracts import fileformat
from marketplace.contracts.importer import ImportFileError, import_file
from marketplace.contracts.models import ContractStatus, TechContract
from marketplace.extensions import db
from marketplace.stats.models import TurnoverRollup
from tests.factories import make_user

D = Decimal
HEADER = (
    "合同登记号,项目名称,合同类型,技术领域,合同成交额(元),技术交易额(元),签订日期,登记日期,"
    "卖方名称,卖方所在地区,卖方单位性质,买方名称,买方所在地区,买方单位性质"
)
GOOD = [
    '2024370212000001,海洋传感器开发,技术开发,电子信息,"1,200,000.00",1000000,2024-05-06,2024-05-20,中国海洋大学,崂山区,022,青岛海检科技有限公司,黄岛区,企业',
    "2024370211000002,智能装备许可,license,advanced_manufacturing,350000,350000,2024/5/6,2024/6/1,青岛某研究院,370211,021,济南某公司,济南市,100",
    "2024370202000003,检测服务,技术服务,urban_social,80000.5,60000,2024年5月6日,2024年6月2日,青岛理工大学,市南区,高等院校,青岛某集团,西海岸新区,",
]


def csv_bytes(rows: list[str], encoding: str = "utf-8", title: str | None = None, header: str = HEADER) -> bytes:
    lines = ([title] if title else []) + [header] + rows
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def count(**criteria) -> int:
    return db.session.scalar(select(func.count()).select_from(TechContract).filter_by(**criteria))


def city_total(year: int = 2024) -> tuple:
    row = db.session.execute(
        select(func.sum(TurnoverRollup.count), func.sum(TurnoverRollup.contract_amount)).where(
            TurnoverRollup.dimension == "all", TurnoverRollup.year == year
        )
    ).one()
    return (row[0] or 0, row[1] or D(0))


def run(data: bytes, filename: str = "f.csv", **options):
    result = import_file(data, filename, **options)
    db.session.commit()
    return result.report


def reasons(report) -> dict[int, str]:
    return {note.line: note.reason for note in report.rejected}


# --- formats -------------------------------------------------------------------------------------


def test_csv_utf8_with_bom_imports_every_good_row_with_parsed_values(app):
    report = run(b"\xef\xbb\xbf" + csv_bytes(GOOD))
    assert (report.created, report.rejected) == (3, [])
    first = db.session.scalar(select(TechContract).filter_by(registration_no="2024370212000001"))
    assert (first.contract_amount, first.tech_amount) == (D("1200000.00"), D("1000000.00"))
    assert (first.signed_on, first.registered_on) == (date(2024, 5, 6), date(2024, 5, 20))
    assert (first.contract_type, first.tech_field, first.status, first.source) == (
        "development",
        "electronic_information",
        ContractStatus.REGISTERED,
        "import",
    )
    assert (first.seller_kind, first.seller_district, first.buyer_district) == ("university", "laoshan", "huangdao")
    second = db.session.scalar(select(TechContract).filter_by(registration_no="2024370211000002"))
    assert (second.seller_kind, second.seller_district, second.buyer_district, second.buyer_kind) == (
        "institute",
        "huangdao",
        "outside",
        "enterprise",
    )
    third = db.session.scalar(select(TechContract).filter_by(registration_no="2024370202000003"))
    assert (third.contract_amount, third.registered_on, third.buyer_district) == (
        D("80000.50"),
        date(2024, 6, 2),
        "huangdao",
    )
    assert third.buyer_kind == "enterprise"  # guessed from 集团 when the cell is empty
    assert city_total() == (3, D("1630000.50"))


def test_csv_gbk_with_title_row_counts_rows_from_the_header(app):
    bad = (
        "2024370212000009,坏日期,技术开发,电子信息,1000,1000,2024-13-40,2024-05-20,甲大学,崂山区,022,乙公司,市南区,100"
    )
    data = csv_bytes([GOOD[0], bad], encoding="gbk", title="2024年青岛市技术合同登记汇总表,,,")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    report = run(data)
    assert report.created == 1
    assert reasons(report) == {3: "签订日期无法识别：2024-13-40"}


def test_header_variants_and_wan_yuan_column_are_understood(app):
    header = (
        "登记编号,合同名称,技术合同类别,技术领域,成交金额（万元）,技术交易额（万元）,签约日期,认定登记日期,"
        "卖方(受托方),所在地区,委托方,买方所在地区"
    )
    rows = ["X-1,测试,技术转让,农业,12.3456,10.5,20240506,2024.06.01,青岛农业大学,平度市,某公司,莱西市"]
    report = run(csv_bytes(rows, header=header))
    assert report.created == 1, report.rejected
    contract = db.session.scalar(select(TechContract))
    assert (contract.contract_amount, contract.tech_amount) == (D("123456.00"), D("105000.00"))
    assert (contract.seller_kind, contract.seller_district, contract.buyer_district) == (
        "university",
        "pingdu",
        "laixi",
    )


@pytest.mark.parametrize(
    ("text", "expected"), [("12.3456", "123456.00"), ("0.000001", "0.01"), ("1,234.5", "12345000.00")]
)
def test_parse_amount_wan_yuan_to_yuan_rounds_to_the_fen(text, expected):
    assert fileformat.parse_amount(text, "万元", "成交额") == D(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-06", date(2024, 5, 6)),
        ("2024/5/6", date(2024, 5, 6)),
        ("2024年5月6日", date(2024, 5, 6)),
        (datetime(2024, 5, 6, 0, 0), date(2024, 5, 6)),
        (45418, date(2024, 5, 6)),
        (45418.0, date(2024, 5, 6)),
        ("2024-05-06 00:00:00", date(2024, 5, 6)),
    ],
)
def test_parse_date_accepted_forms(value, expected):
    assert fileformat.parse_date(value, "签订日期") == expected


def xlsx_bytes(title: bool = True) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    if title:
        sheet.append(["2025年青岛市技术合同认定登记明细"])
    sheet.append(
        [
            "合同登记编号",
            "项目名称",
            "合同类型",
            "技术领域",
            "合同成交额（万元）",
            "技术交易额（万元）",
            "签订日期",
            "登记日期",
            "卖方名称",
            "卖方所在地区",
            "买方名称",
            "买方所在地区",
        ]
    )
    sheet.append(
        [
            "2025370211000001",
            "船舶设计",
            "技术开发",
            "先进制造",
            150.5,
            120,
            date(2025, 1, 5),
            datetime(2025, 2, 1),
            "青岛船舶研究所",
            "青岛西海岸新区",
            "某船厂",
            "370211",
        ]
    )
    sheet.append(
        [
            "2025370211000002",
            "负金额",
            "技术开发",
            "先进制造",
            -3,
            0,
            date(2025, 1, 5),
            date(2025, 2, 1),
            "甲",
            "黄岛区",
            "乙",
            "黄岛区",
        ]
    )
    sheet.append(
        [2025370211000003, "序列号日期", "技术咨询", "农业", "8", "8", 45658, 45689, "甲", "黄岛区", "乙", "城阳区"]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_title_row_wan_column_and_excel_dates_imports_and_reports(app):
    report = run(xlsx_bytes(), "c.xlsx")
    assert report.created == 2
    assert reasons(report) == {3: "合同成交额必须大于 0"}
    first = db.session.scalar(select(TechContract).filter_by(registration_no="2025370211000001"))
    assert (first.contract_amount, first.tech_amount) == (D("1505000.00"), D("1200000.00"))
    assert (first.signed_on, first.registered_on) == (date(2025, 1, 5), date(2025, 2, 1))
    assert (first.seller_kind, first.seller_district, first.buyer_district) == ("institute", "huangdao", "huangdao")
    third = db.session.scalar(select(TechContract).filter_by(registration_no="2025370211000003"))
    assert (third.signed_on, third.registered_on, third.contract_amount) == (
        date(2025, 1, 1),
        date(2025, 2, 1),
        D("80000.00"),
    )


# --- rejections ----------------------------------------------------------------------------------


def test_every_rejection_reason_is_reported_with_its_row(app):
    rows = [
        GOOD[0],  # row 2
        "R3,甲,技术开发,电子信息,abc,1,2024-01-01,2024-02-01,甲,崂山区,,乙,崂山区,",
        "R4,甲,技术开发,电子信息,1000,1000,昨天,2024-02-01,甲,崂山区,,乙,崂山区,",
        "R5,甲,技术开发,电子信息,0,0,2024-01-01,2024-02-01,甲,崂山区,,乙,崂山区,",
        "R6,甲,技术开发,电子信息,-10,0,2024-01-01,2024-02-01,甲,崂山区,,乙,崂山区,",
        "R7,甲,技术开发,电子信息,100,101,2024-01-01,2024-02-01,甲,崂山区,,乙,崂山区,",
        "R8,甲,技术开发,电子信息,100,100,2024-03-01,2024-02-01,甲,崂山区,,乙,崂山区,",
        "R9,甲,技术租赁,电子信息,100,100,2024-01-01,2024-02-01,甲,崂山区,,乙,崂山区,",
        "R10,甲,技术开发,占星术,100,100,2024-01-01,2024-02-01,甲,崂山区,,乙,崂山区,",
        ",甲,技术开发,电子信息,100,100,2024-01-01,2024-02-01,甲,崂山区,,乙,崂山区,",
        GOOD[0],  # row 12: duplicate of row 2
    ]
    report = run(csv_bytes(rows))
    assert report.created == 1
    assert reasons(report) == {
        3: "合同成交额无法识别：abc",
        4: "签订日期无法识别：昨天",
        5: "合同成交额必须大于 0",
        6: "合同成交额必须大于 0",
        7: "技术交易额不能大于合同成交额",
        8: "登记日期不能早于签订日期",
        9: "未知的合同类型：技术租赁",
        10: "未知的技术领域：占星术",
        11: "缺少合同登记号",
        12: "合同登记号 2024370212000001 在文件中重复（与第 2 行）",
    }
    assert count() == 1


def test_file_without_header_row_or_required_column_cannot_be_read(app):
    with pytest.raises(ImportFileError, match="找不到表头"):
        import_file("标题\n甲,乙\n".encode(), "x.csv")
    with pytest.raises(ImportFileError, match="登记日期"):
        import_file("合同登记号,项目名称,合同类型,合同成交额,卖方名称,买方名称,卖方所在地区,买方所在地区\n".encode())
    with pytest.raises(ImportFileError):
        import_file(b"PK\x03\x04 not really a zip", "x.xlsx")


# --- idempotency, dry run ------------------------------------------------------------------------


def test_same_file_twice_imports_nothing_the_second_time_and_totals_stay(app):
    data = csv_bytes(GOOD)
    assert run(data).created == 3
    before = city_total()
    again = run(data)
    assert (again.created, again.unchanged, again.rejected) == (0, 3, [])
    assert city_total() == before and count() == 3


def test_existing_registration_number_with_different_values_is_rejected_not_overwritten(app):
    run(csv_bytes(GOOD))
    changed = GOOD[1].replace(",350000,350000,", ",360000,350000,")
    report = run(csv_bytes([changed]))
    assert report.created == 0
    assert reasons(report)[2].startswith("合同登记号已存在且内容不同（合同成交额）")
    contract = db.session.scalar(select(TechContract).filter_by(registration_no="2024370211000002"))
    assert contract.contract_amount == D("350000.00")


def test_dry_run_reports_but_writes_nothing(app):
    result = import_file(csv_bytes(GOOD + ["bad,x,技术开发,,0,0,,2024-01-01,a,崂山区,,b,崂山区,"]), dry_run=True)
    db.session.commit()
    assert (result.report.created, len(result.report.rejected), result.report.dry_run) == (3, 1, True)
    assert count() == 0 and city_total() == (0, D(0))


def test_batches_commit_through_checkpoint_and_total_matches(app):
    rows = [
        f"B{n:05d},批量{n},技术服务,电子信息,1000.{n % 100:02d},900,2024-01-01,2024-0{1 + n % 9}-15,"
        "甲大学,崂山区,,乙公司,市北区,"
        for n in range(2500)
    ]
    calls = []
    result = import_file(csv_bytes(rows), checkpoint=lambda report: calls.append(report.total), batch_size=1000)
    db.session.commit()
    assert calls == [1000, 2000, 2500]
    expected = sum(D(f"1000.{n % 100:02d}") for n in range(2500))
    assert result.report.created == 2500 and city_total() == (2500, expected)


# --- CLI -----------------------------------------------------------------------------------------


def test_cli_imports_files_prints_report_and_exits_1_for_unreadable(app, tmp_path: Path):
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(GOOD + ["R9,甲,技术租赁,电子信息,100,100,2024-01-01,2024-02-01,甲,崂山区,,乙,崂山区,"]))
    broken = tmp_path / "broken.csv"
    broken.write_bytes("没有表头\n".encode())
    runner = app.test_cli_runner()
    result = runner.invoke(args=["contracts", "import", str(good), str(broken)])
    assert result.exit_code == 1
    assert "imported: 3, unchanged: 0, rejected: 1" in result.output
    assert "row 5: 未知的合同类型：技术租赁" in result.output
    assert "找不到表头" in result.output
    db.session.expire_all()
    assert count() == 3

    again = runner.invoke(args=["contracts", "import", str(good), "--dry-run"])
    assert again.exit_code == 0 and "imported: 0, unchanged: 3, rejected: 1" in again.output


def test_cli_dry_run_saves_nothing(app, tmp_path: Path):
    path = tmp_path / "c.xlsx"
    path.write_bytes(xlsx_bytes())
    result = app.test_cli_runner().invoke(args=["contracts", "import", "--dry-run", str(path)])
    assert result.exit_code == 0 and "imported: 2, unchanged: 0, rejected: 1" in result.output
    assert count() == 0


def test_import_links_organisations_by_exact_name(app):
    admin = make_user(Role.ADMIN, org=None)
    from tests.factories import make_org

    org = make_org(name="中国海洋大学")
    import_file(csv_bytes(GOOD), actor=admin)
    db.session.commit()
    contract = db.session.scalar(select(TechContract).filter_by(registration_no="2024370212000001"))
    assert contract.seller_org_id == org.id and contract.created_by_id == admin.id


# --- web upload ----------------------------------------------------------------------------------


def _run_contract_job():
    from marketplace.jobs.registry import registered_jobs
    from marketplace.jobs.runner import run_job

    db.session.commit()
    job = next(job for job in registered_jobs() if job.name == "contract-imports")
    outcome = run_job(job)
    assert outcome.ran and outcome.error is None, outcome
    db.session.expire_all()


def test_web_upload_is_queued_run_by_the_job_and_reported(app, client):
    from marketplace.contracts.models import ContractImportRun
    from tests.factories import login

    login(client, make_user(Role.ADMIN, org=None))
    response = client.post(
        "/admin/contracts/import",
        data={"file": (io.BytesIO(xlsx_bytes()), "登记数据.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    run = db.session.scalar(select(ContractImportRun))
    stored = Path(app.config["UPLOAD_DIR"]) / run.stored_name
    assert run.status == "queued" and stored.exists() and count() == 0
    waiting = client.get(f"/admin/contracts/import/runs/{run.id}").get_data(as_text=True)
    assert "import-progress.js" in waiting and "刷新" in waiting

    _run_contract_job()
    run = db.session.get(ContractImportRun, run.id)
    assert run.status == "done" and run.stored_name is None and not stored.exists()
    assert count() == 2
    page = client.get(f"/admin/contracts/import/runs/{run.id}").get_data(as_text=True)
    assert "导入报告" in page and "合同成交额必须大于 0" in page
    assert client.get(f"/admin/contracts/import/runs/{run.id}/progress.json").get_json()["finished"]


def test_web_upload_of_a_non_spreadsheet_is_refused_with_a_message(app, client):
    from tests.factories import login

    login(client, make_user(Role.ADMIN, org=None))
    response = client.post(
        "/admin/contracts/import",
        data={"file": (io.BytesIO(b"%PDF-1.4 fake\n%%EOF"), "x.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and "只支持以下格式的文件" in response.get_data(as_text=True)


def test_web_upload_without_header_ends_failed_with_the_reason(app, client):
    from marketplace.contracts.models import ContractImportRun
    from tests.factories import login

    login(client, make_user(Role.ADMIN, org=None))
    client.post(
        "/admin/contracts/import",
        data={"file": (io.BytesIO("甲,乙\n1,2\n".encode()), "x.csv")},
        content_type="multipart/form-data",
    )
    _run_contract_job()
    run = db.session.scalar(select(ContractImportRun))
    assert run.status == "failed" and "找不到表头" in run.error


def test_web_dry_run_reports_and_saves_nothing(app, client):
    from marketplace.contracts.models import ContractImportRun
    from tests.factories import login

    login(client, make_user(Role.ADMIN, org=None))
    client.post(
        "/admin/contracts/import",
        data={"file": (io.BytesIO(csv_bytes(GOOD, encoding="gbk")), "gbk.csv"), "dry_run": "y"},
        content_type="multipart/form-data",
    )
    _run_contract_job()
    run = db.session.scalar(select(ContractImportRun))
    assert run.status == "done" and run.report["created"] == 3 and run.report["dry_run"]
    assert count() == 0 and city_total() == (0, D(0))
    assert "仅检查：没有保存任何数据" in client.get(f"/admin/contracts/import/runs/{run.id}").get_data(as_text=True)
