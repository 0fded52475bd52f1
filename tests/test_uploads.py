"""The uploads module: detection by bytes, storage that follows the transaction, safe downloads, sweep."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image
from sqlalchemy import text
from werkzeug.datastructures import FileStorage

from marketplace.accounts.roles import Role
from marketplace.core.errors import ServiceError
from marketplace.extensions import db
from marketplace.listings import attachments
from marketplace.listings.models import Attachment
from marketplace.uploads import checks, storage
from marketplace.uploads.cli import orphaned_files
from marketplace.uploads.download import content_disposition, send_upload
from tests.factories import make_listing, make_user

EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode."
HTML_BYTES = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
CSV_TEXT = "名称,领域,联系人\n海洋防腐涂层,新材料,张工\n"


def image_bytes(image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), "teal").save(buffer, image_format)
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    return image_bytes("PDF")


def ooxml_bytes(parts: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def xlsx_bytes() -> bytes:
    """The parts Excel itself writes for a one-sheet workbook (trimmed to what a reader needs)."""
    main = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    return ooxml_bytes(
        {
            "[Content_Types].xml": (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                f'<Override PartName="/xl/workbook.xml" ContentType="{main}.sheet.main+xml"/>'
                f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{main}.worksheet+xml"/>'
                "</Types>"
            ),
            "_rels/.rels": "<Relationships/>",
            "xl/workbook.xml": "<workbook><sheets><sheet name='名单' sheetId='1' r:id='rId1'/></sheets></workbook>",
            "xl/_rels/workbook.xml.rels": "<Relationships/>",
            "xl/worksheets/sheet1.xml": "<worksheet><sheetData/></worksheet>",
        }
    )


def docx_bytes() -> bytes:
    return ooxml_bytes({"[Content_Types].xml": "<Types/>", "word/document.xml": "<document/>"})


def upload(data: bytes, filename: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=filename)


def files_under(app) -> list[str]:
    root = Path(app.config["UPLOAD_DIR"])
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


# --- detection by bytes ----------------------------------------------------------------------------

REAL_FILES = [
    (checks.PDF, pdf_bytes, "报告.pdf"),
    (checks.PNG, lambda: image_bytes("PNG"), "图.png"),
    (checks.JPEG, lambda: image_bytes("JPEG"), "图.jpg"),
    (checks.GIF, lambda: image_bytes("GIF"), "图.gif"),
    (checks.WEBP, lambda: image_bytes("WEBP"), "图.webp"),
    (checks.XLSX, xlsx_bytes, "名单.xlsx"),
    (checks.CSV, lambda: CSV_TEXT.encode("utf-8"), "名单.csv"),
    (checks.CSV, lambda: CSV_TEXT.encode("gbk"), "名单.csv"),
    (checks.TEXT, lambda: "说明\r\n第二行\t制表符\n".encode(), "说明.txt"),
]


@pytest.mark.parametrize(("kind", "make", "filename"), REAL_FILES, ids=lambda v: getattr(v, "name", None))
def test_detect_real_file_of_each_kind_is_accepted(app, kind, make, filename):
    assert checks.detect(make(), checks.ALL_KINDS, filename) is kind


IMPOSTORS = [
    (checks.PDF, HTML_BYTES, "html as pdf"),
    (checks.PDF, pdf_bytes().replace(b"%%EOF", b""), "pdf without trailer"),
    (checks.PNG, image_bytes("JPEG"), "jpeg as png"),
    (checks.PNG, image_bytes("PNG")[:-30], "truncated png"),
    (checks.JPEG, EXE_BYTES, "exe as jpeg"),
    (checks.GIF, image_bytes("PNG"), "png as gif"),
    (checks.WEBP, b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x10\x00\x00\x00" + b"\x01\x00" * 12, "wav as webp"),
    (checks.XLSX, docx_bytes(), "docx as xlsx"),
    (checks.XLSX, b"PK\x03\x04" + b"\x00" * 60, "broken zip as xlsx"),
    (checks.XLSX, image_bytes("GIF") + xlsx_bytes(), "gif with workbook appended"),
    (checks.XLSX, ooxml_bytes({"[Content_Types].xml": "<Types/>", "xl/vbaProject.bin": "x"}), "xlsm as xlsx"),
    (checks.CSV, image_bytes("PNG"), "png as csv"),
    (checks.CSV, EXE_BYTES, "exe as csv"),
    (checks.CSV, b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer\n%%EOF\n", "text-only pdf as csv"),
    (checks.CSV, CSV_TEXT.encode("utf-16"), "utf-16 as csv"),
    (checks.CSV, xlsx_bytes(), "xlsx as csv"),
    (checks.TEXT, b"\xff\xfe\xfd\x80\x81 not any text", "undecodable as txt"),
]


@pytest.mark.parametrize(("kind", "data", "label"), IMPOSTORS, ids=[label for _k, _d, label in IMPOSTORS])
def test_detect_renamed_impostor_is_refused(app, kind, data, label):
    assert checks.detect(data, [kind], "renamed" + kind.extension) is None


def test_detect_text_for_csv_or_text_follows_users_extension(app):
    data = CSV_TEXT.encode()

    assert checks.detect(data, [checks.CSV, checks.TEXT], "a.txt") is checks.TEXT
    assert checks.detect(data, [checks.CSV, checks.TEXT], "a.csv") is checks.CSV
    assert checks.detect(data, [checks.CSV, checks.TEXT], "a") is checks.CSV


def test_detect_image_not_among_callers_kinds_is_refused(app):
    assert checks.detect(image_bytes("PNG"), [checks.PDF, checks.XLSX]) is None


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (CSV_TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + CSV_TEXT.encode("utf-8"), "utf-8-sig"),
        (CSV_TEXT.encode("gbk"), "gbk"),
        (image_bytes("PNG"), None),
    ],
    ids=["utf-8", "utf-8 with bom", "gbk", "binary"],
)
def test_text_encoding_names_the_encoding_that_decodes_it(app, data, encoding):
    assert checks.text_encoding(data) == encoding
    if encoding:
        assert data.decode(encoding) == CSV_TEXT


# --- check_upload: what each caller states --------------------------------------------------------


def test_check_upload_gbk_csv_returns_kind_encoding_and_clean_name(app):
    checked = checks.check_upload(upload(CSV_TEXT.encode("gbk"), "C:\\导入\\名单.csv"), [checks.XLSX, checks.CSV], 1000)

    assert checked.kind is checks.CSV and checked.content_type == "text/csv"
    assert checked.encoding == "gbk" and checked.filename == "名单.csv"
    assert checked.size == len(CSV_TEXT.encode("gbk"))


def test_check_upload_of_kind_caller_does_not_accept_names_accepted_kinds(app):
    with pytest.raises(ServiceError, match="只支持以下格式的文件：Excel \\(XLSX\\)/CSV") as error:
        checks.check_upload(upload(pdf_bytes(), "名单.xlsx"), [checks.XLSX, checks.CSV], 10_000)
    assert error.value.status_code == 415


def test_check_upload_over_callers_limit_is_refused_with_413(app):
    with pytest.raises(ServiceError, match="文件不能超过 2 KB") as error:
        checks.check_upload(upload(b"a,b\n" * 600, "a.csv"), [checks.CSV], 2048)
    assert error.value.status_code == 413


@pytest.mark.parametrize(
    ("file_storage", "message"),
    [(None, "请选择要上传的文件"), (upload(b"", ""), "请选择要上传的文件"), (upload(b"", "a.csv"), "文件是空的")],
    ids=["none", "no name", "empty"],
)
def test_check_upload_without_content_is_refused_with_message(app, file_storage, message):
    with pytest.raises(ServiceError, match=message):
        checks.check_upload(file_storage, [checks.CSV], 1000)


def test_clean_filename_of_real_xlsx_named_xls_gets_xlsx_extension(app):
    assert checks.clean_filename("名单.xlsx", checks.XLSX.content_type) == "名单.xlsx"
    assert checks.clean_filename("名单.csv", checks.XLSX.content_type) == "名单.xlsx"


# --- storage that follows the transaction ---------------------------------------------------------


def test_store_puts_file_under_area_with_random_name(app):
    first = storage.store("deals", b"%PDF-1.4 a", ".pdf")
    second = storage.store("deals", b"%PDF-1.4 a", ".pdf")
    db.session.commit()

    assert first != second
    assert first.startswith("deals/") and first.endswith(".pdf") and len(first) == len("deals/") + 32 + 4
    assert files_under(app) == sorted([first, second])
    assert (Path(app.config["UPLOAD_DIR"]) / first).read_bytes() == b"%PDF-1.4 a"


def test_store_rolled_back_removes_the_file(app):
    db.session.execute(text("SELECT 1"))  # the usual case: the service has queried something first
    storage.store("deals", b"data", ".pdf")
    assert len(files_under(app)) == 1

    db.session.rollback()

    assert files_under(app) == []


def test_store_before_any_query_rolled_back_removes_the_file(app):
    # No statement has begun the transaction yet: the rollback must still take the file away.
    storage.store("deals", b"data", ".pdf")

    db.session.rollback()

    assert files_under(app) == []


def test_delete_after_commit_before_any_query_committed_removes_the_file(app):
    key = stored_key(app, b"data", ".pdf")

    storage.delete_after_commit(key)
    db.session.commit()

    assert files_under(app) == []


def test_store_in_rolled_back_savepoint_removes_only_that_savepoints_file(app):
    kept = storage.store("deals", b"kept", ".pdf")
    savepoint = db.session.begin_nested()
    storage.store("deals", b"dropped", ".pdf")
    savepoint.rollback()
    assert files_under(app) == [kept]

    db.session.commit()

    assert files_under(app) == [kept]


def test_store_in_released_savepoint_is_removed_when_outer_transaction_rolls_back(app):
    with db.session.begin_nested():
        storage.store("deals", b"inner", ".pdf")

    db.session.rollback()

    assert files_under(app) == []


def test_delete_after_commit_committed_removes_the_file(app):
    key = storage.store("deals", b"data", ".pdf")
    db.session.commit()

    storage.delete_after_commit(key)
    assert files_under(app) == [key]  # nothing happens before the commit
    db.session.commit()

    assert files_under(app) == []


def test_delete_after_commit_rolled_back_keeps_the_file(app):
    key = storage.store("deals", b"data", ".pdf")
    db.session.commit()

    storage.delete_after_commit(key)
    db.session.rollback()

    assert files_under(app) == [key]


@pytest.mark.parametrize("key", ["../secret.pdf", "/etc/passwd", "deals/../../x.pdf", "deals/sub/x.pdf", ""])
def test_open_stored_key_outside_upload_dir_is_not_found(app, key):
    outside = Path(app.config["UPLOAD_DIR"]).parent / "secret.pdf"
    outside.write_bytes(b"not yours")

    with pytest.raises(FileNotFoundError):
        storage.open_stored(key)


@pytest.mark.parametrize(("area", "extension"), [("../up", ".pdf"), ("Deals", ".pdf"), ("deals", "/x.pdf")])
def test_store_with_bad_area_or_extension_is_a_programming_error(app, area, extension):
    with pytest.raises(ValueError):
        storage.store(area, b"data", extension)


# --- downloads ------------------------------------------------------------------------------------


def test_content_disposition_has_utf8_name_and_ascii_fallback(app):
    name = '检测"报告".pdf'

    value = content_disposition("attachment", name)

    assert value == f"attachment; filename=\"download.pdf\"; filename*=UTF-8''{quote(name, safe='')}"
    assert (
        content_disposition("attachment", 'x.p"d\r\nf')
        == "attachment; filename=\"x.pdf\"; filename*=UTF-8''x.p%22d%0D%0Af"
    )
    assert (
        content_disposition("inline", "photo 1.png")
        == "inline; filename=\"photo 1.png\"; filename*=UTF-8''photo%201.png"
    )


def stored_key(app, data: bytes, extension: str) -> str:
    key = storage.store("deals", data, extension)
    db.session.commit()
    return key


@pytest.mark.parametrize(
    ("data", "content_type", "disposition"),
    [
        (image_bytes("PNG"), "image/png", "inline"),
        (pdf_bytes(), "application/pdf", "attachment"),
        (CSV_TEXT.encode(), "text/csv", "attachment"),
        (xlsx_bytes(), checks.XLSX.content_type, "attachment"),
    ],
    ids=["png", "pdf", "csv", "xlsx"],
)
def test_send_upload_shows_only_images_inline_and_never_sniffs(app, data, content_type, disposition):
    key = stored_key(app, data, ".bin")

    with app.test_request_context():
        response = send_upload(key, "文件", content_type)
        response.direct_passthrough = False
        body = response.get_data()

    assert body == data
    assert response.mimetype == content_type
    assert response.content_length == len(data)
    assert response.headers["Content-Disposition"].startswith(disposition + ";")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.cache_control.private


def test_send_upload_with_matching_etag_is_not_modified(app):
    key = stored_key(app, pdf_bytes(), ".pdf")
    with app.test_request_context():
        etag = send_upload(key, "a.pdf", "application/pdf").get_etag()[0]
    with app.test_request_context(headers={"If-None-Match": f'"{etag}"'}):
        response = send_upload(key, "a.pdf", "application/pdf")

    assert response.status_code == 304


def test_send_upload_byte_range_returns_partial_content(app):
    data = pdf_bytes()
    key = stored_key(app, data, ".pdf")

    with app.test_request_context(headers={"Range": "bytes=0-4"}):
        response = send_upload(key, "a.pdf", "application/pdf")
        response.direct_passthrough = False
        body = response.get_data()

    assert response.status_code == 206 and body == data[:5]


def test_send_upload_of_missing_file_is_404_with_callers_message(app):
    with app.test_request_context(), pytest.raises(ServiceError, match="请联系发布方") as error:
        send_upload("deals/" + "0" * 32 + ".pdf", "a.pdf", "application/pdf", missing_message="请联系发布方")
    assert error.value.status_code == 404


def test_download_attachment_stored_before_areas_still_works(app, client):
    # Rows written before uploads had areas hold a bare name at the top of UPLOAD_DIR: no migration.
    owner = make_user(Role.RESEARCHER)
    listing = make_listing(owner=owner)
    data = pdf_bytes()
    root = Path(app.config["UPLOAD_DIR"])
    root.mkdir(parents=True, exist_ok=True)
    (root / ("ab" * 16 + ".pdf")).write_bytes(data)
    attachment = Attachment(
        listing_id=listing.id,
        filename="旧附件.pdf",
        stored_name="ab" * 16 + ".pdf",
        content_type="application/pdf",
        size_bytes=len(data),
    )
    db.session.add(attachment)
    db.session.commit()

    response = client.get(f"/attachments/{attachment.id}")

    assert response.status_code == 200 and response.data == data


# --- orphan sweep ---------------------------------------------------------------------------------


def test_sweep_dry_run_lists_only_unreferenced_files_and_removes_nothing(app, runner):
    owner = make_user(Role.RESEARCHER)
    attachment = attachments.add_attachment(owner, make_listing(owner=owner), upload(pdf_bytes(), "a.pdf"))
    db.session.commit()
    orphan = stored_key(app, b"left behind", ".pdf")

    result = runner.invoke(args=["uploads", "sweep", "--dry-run", "--min-age-hours", "0"])

    assert result.exit_code == 0, result.output
    assert orphan in result.stdout and attachment.stored_name not in result.stdout
    assert files_under(app) == sorted([orphan, attachment.stored_name])


def test_sweep_removes_old_orphans_and_keeps_recent_and_foreign_files(app, runner):
    owner = make_user(Role.RESEARCHER)
    attachment = attachments.add_attachment(owner, make_listing(owner=owner), upload(pdf_bytes(), "a.pdf"))
    db.session.commit()
    old_orphan, new_orphan = stored_key(app, b"old", ".pdf"), stored_key(app, b"new", ".pdf")
    two_days_ago = (Path(app.config["UPLOAD_DIR"]) / old_orphan).stat().st_mtime - 2 * 86400
    os.utime(Path(app.config["UPLOAD_DIR"]) / old_orphan, (two_days_ago, two_days_ago))
    assert [stored.key for stored in orphaned_files(timedelta(hours=24))] == [old_orphan]

    foreign = Path(app.config["UPLOAD_DIR"]) / "backups" / "nested" / "notes.txt"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("not an upload")
    os.utime(foreign, (two_days_ago, two_days_ago))

    result = runner.invoke(args=["uploads", "sweep"])

    assert result.exit_code == 0, result.output
    assert files_under(app) == sorted([new_orphan, attachment.stored_name, "backups/nested/notes.txt"])
