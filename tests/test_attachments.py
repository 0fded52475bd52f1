"""Listing attachments: content-checked uploads, permissioned downloads, files that follow the transaction."""

from __future__ import annotations

import io
import os
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from marketplace.accounts.roles import Role
from marketplace.core.audit import AuditEvent
from marketplace.core.errors import PermissionDenied, ServiceError
from marketplace.extensions import db
from marketplace.listings import attachments
from marketplace.listings import services as listing_services
from marketplace.listings.models import Attachment, ListingStatus
from tests.factories import login, make_listing, make_user

HTML_BYTES = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode."


def pdf_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, "PDF")
    return buffer.getvalue()


def png_bytes(size: tuple[int, int] = (16, 16), noise: bool = False) -> bytes:
    buffer = io.BytesIO()
    if noise:  # random pixels do not compress, so the file is about as big as the image
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, "red")
    image.save(buffer, "PNG")
    return buffer.getvalue()


def upload_file(data: bytes, filename: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=filename, content_type="application/octet-stream")


def stored_files(app) -> list[str]:
    directory = Path(app.config["UPLOAD_DIR"])
    # Keys, as the rows hold them: "listings/<random>.pdf".
    return sorted(path.relative_to(directory).as_posix() for path in directory.rglob("*") if path.is_file())


def post_upload(client, listing, data: bytes, filename: str):
    return client.post(
        f"/listings/{listing.id}/attachments",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


@pytest.fixture
def owner():
    return make_user(Role.RESEARCHER)


@pytest.fixture
def listing(owner):
    return make_listing(owner=owner)


def test_upload_real_pdf_by_owner_is_stored_under_random_name(app, client, owner, listing):
    data = pdf_bytes()
    login(client, owner)

    response = post_upload(client, listing, data, "检测报告.pdf")

    assert response.status_code == 200
    attachment = db.session.scalars(select(Attachment)).one()
    assert attachment.listing_id == listing.id
    assert attachment.filename == "检测报告.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.size_bytes == len(data)
    assert attachment.stored_name.endswith(".pdf") and "检测报告" not in attachment.stored_name
    assert stored_files(app) == [attachment.stored_name]
    assert (Path(app.config["UPLOAD_DIR"]) / attachment.stored_name).read_bytes() == data
    assert "检测报告.pdf" in response.get_data(as_text=True)


def test_upload_real_png_is_detected_as_image_whatever_its_name(app, owner, listing):
    attachment = attachments.add_attachment(owner, listing, upload_file(png_bytes(), "产品照片.jpg"))
    db.session.commit()

    assert attachment.content_type == "image/png"
    assert attachment.stored_name.endswith(".png")
    assert attachment.filename == "产品照片.png"
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "listing.attachment_added")).one()
    assert audit.actor_id == owner.id and audit.object_id == listing.id


@pytest.mark.parametrize("content", [HTML_BYTES, EXE_BYTES], ids=["html", "exe"])
def test_upload_pdf_named_file_with_foreign_content_is_rejected_with_message(app, client, owner, listing, content):
    login(client, owner)

    response = post_upload(client, listing, content, "x.pdf")

    assert "只支持 PDF 或图片文件（PNG/JPEG/GIF/WebP）" in response.get_data(as_text=True)
    assert db.session.scalars(select(Attachment)).all() == []
    assert stored_files(app) == []


def test_upload_pdf_header_without_eof_trailer_is_rejected(app, owner, listing):
    truncated = pdf_bytes().replace(b"%%EOF", b"")

    with pytest.raises(ServiceError, match="只支持 PDF 或图片文件"):
        attachments.add_attachment(owner, listing, upload_file(truncated, "报告.pdf"))


def test_upload_file_over_size_limit_is_rejected_with_message(app, client, owner, listing):
    app.config["UPLOAD_MAX_BYTES"] = 1000
    data = png_bytes((64, 64), noise=True)
    assert len(data) > 1000
    login(client, owner)

    response = post_upload(client, listing, data, "大图.png")

    assert "文件不能超过 1000 B" in response.get_data(as_text=True)
    assert db.session.scalars(select(Attachment)).all() == []
    assert stored_files(app) == []


def test_upload_size_message_uses_megabytes_for_default_limit(app, owner, listing):
    app.config["UPLOAD_MAX_BYTES"] = 10 * 1024 * 1024
    data = b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024) + b"\n%%EOF\n"

    with pytest.raises(ServiceError, match="文件不能超过 10 MB"):
        attachments.add_attachment(owner, listing, upload_file(data, "big.pdf"))


def test_upload_beyond_ten_attachments_is_refused(app, owner, listing):
    for n in range(attachments.MAX_ATTACHMENTS):
        attachments.add_attachment(owner, listing, upload_file(png_bytes(), f"图{n}.png"))
    db.session.commit()

    with pytest.raises(ServiceError, match="最多上传 10 个附件") as error:
        attachments.add_attachment(owner, listing, upload_file(png_bytes(), "第十一张.png"))
    assert error.value.status_code == 409


def test_upload_by_stranger_is_forbidden(app, client, listing):
    login(client, make_user(Role.RESEARCHER))

    response = client.post(
        f"/listings/{listing.id}/attachments",
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(pdf_bytes()), "a.pdf")},
    )

    assert response.status_code == 403
    assert db.session.scalars(select(Attachment)).all() == []
    assert stored_files(app) == []


def test_download_draft_listing_attachment_by_stranger_is_not_found(app, client, owner):
    draft = make_listing(owner=owner, status=ListingStatus.DRAFT)
    attachment = attachments.add_attachment(owner, draft, upload_file(pdf_bytes(), "内部资料.pdf"))
    db.session.commit()

    stranger_client, owner_client = app.test_client(), app.test_client()
    login(stranger_client, make_user(Role.ENTERPRISE))
    login(owner_client, owner)

    assert client.get(f"/attachments/{attachment.id}").status_code == 404
    assert stranger_client.get(f"/attachments/{attachment.id}").status_code == 404
    assert owner_client.get(f"/attachments/{attachment.id}").status_code == 200


def test_download_published_listing_attachment_by_anonymous_returns_file(app, client, owner, listing):
    data = pdf_bytes()
    attachment = attachments.add_attachment(owner, listing, upload_file(data, "检测报告.pdf"))
    db.session.commit()

    response = client.get(f"/attachments/{attachment.id}")

    assert response.status_code == 200
    assert response.data == data
    assert response.mimetype == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and quote("检测报告.pdf") in disposition


def test_delete_attachment_by_owner_removes_row_and_file(app, client, owner, listing):
    attachment = attachments.add_attachment(owner, listing, upload_file(png_bytes(), "图.png"))
    db.session.commit()
    path = Path(app.config["UPLOAD_DIR"]) / attachment.stored_name
    assert path.exists()
    login(client, owner)

    response = client.post(f"/attachments/{attachment.id}/delete")

    assert response.status_code == 302
    assert db.session.scalars(select(Attachment)).all() == []
    assert not path.exists()


def test_delete_attachment_by_stranger_is_forbidden_and_keeps_file(app, client, owner, listing):
    attachment = attachments.add_attachment(owner, listing, upload_file(png_bytes(), "图.png"))
    db.session.commit()
    login(client, make_user(Role.RESEARCHER))

    response = client.post(f"/attachments/{attachment.id}/delete")

    assert response.status_code == 403
    assert db.session.get(Attachment, attachment.id) is not None
    assert stored_files(app) == [attachment.stored_name]


def test_delete_attachment_rolled_back_keeps_file(app, owner, listing):
    attachment = attachments.add_attachment(owner, listing, upload_file(png_bytes(), "图.png"))
    db.session.commit()

    attachments.delete_attachment(owner, db.session.get(Attachment, attachment.id))
    db.session.rollback()

    assert stored_files(app) == [attachment.stored_name]


def test_upload_rolled_back_leaves_no_file(app, owner, listing):
    attachments.add_attachment(owner, listing, upload_file(pdf_bytes(), "a.pdf"))
    assert len(stored_files(app)) == 1

    db.session.rollback()

    assert stored_files(app) == []


def test_upload_in_rolled_back_savepoint_removes_only_its_file(app, owner, listing):
    kept = attachments.add_attachment(owner, listing, upload_file(pdf_bytes(), "keep.pdf"))
    with pytest.raises(RuntimeError):
        with db.session.begin_nested():
            attachments.add_attachment(owner, listing, upload_file(png_bytes(), "drop.png"))
            raise RuntimeError("step failed")
    db.session.commit()

    assert stored_files(app) == [kept.stored_name]


def test_deleting_draft_listing_removes_its_attachment_files(app, owner):
    draft = make_listing(owner=owner, status=ListingStatus.DRAFT)
    attachments.add_attachment(owner, draft, upload_file(pdf_bytes(), "a.pdf"))
    db.session.commit()
    assert len(stored_files(app)) == 1

    listing_services.delete_draft(owner, draft)
    db.session.commit()

    assert stored_files(app) == []


def test_detail_page_shows_attachments_and_upload_form_only_to_owner(app, client, owner, listing):
    attachments.add_attachment(owner, listing, upload_file(pdf_bytes(), "技术白皮书.pdf"))
    db.session.commit()

    public_page = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    login(client, owner)
    owner_page = client.get(f"/listings/{listing.id}").get_data(as_text=True)

    assert "技术白皮书.pdf" in public_page and "上传附件" not in public_page
    assert "上传附件" in owner_page and f"/listings/{listing.id}/attachments" in owner_page


def test_detail_page_without_attachments_shows_empty_state(client, listing):
    page = client.get(f"/listings/{listing.id}").get_data(as_text=True)

    assert "暂无附件" in page


def test_add_attachment_service_by_stranger_raises_permission_denied(app, listing):
    with pytest.raises(PermissionDenied):
        attachments.add_attachment(make_user(Role.RESEARCHER), listing, upload_file(pdf_bytes(), "a.pdf"))
    assert stored_files(app) == []


@pytest.mark.parametrize(
    ("given", "content_type", "expected"),
    [
        ("C:\\Users\\张三\\桌面\\合作方案.pdf", "application/pdf", "合作方案.pdf"),
        ("../../etc/passwd", "application/pdf", "passwd.pdf"),
        ("报告\u202egpj.pdf", "application/pdf", "报告gpj.pdf"),
        ("照片.png", "image/jpeg", "照片.jpg"),
        ("", "image/png", "附件.png"),
    ],
)
def test_clean_filename_keeps_chinese_and_drops_paths_and_controls(app, given, content_type, expected):
    assert attachments.clean_filename(given, content_type) == expected


def test_clean_filename_long_name_is_capped_with_extension_kept(app):
    name = attachments.clean_filename("很长的名字" * 100 + ".pdf", "application/pdf")

    assert len(name) == attachments.MAX_FILENAME_CHARS and name.endswith(".pdf")
