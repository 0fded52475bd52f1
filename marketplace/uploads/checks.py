"""What an uploaded file really is, decided by its bytes, and the checks every upload goes through.

Each caller names the kinds it accepts and its size limit (listing attachments: PDF and images up to
UPLOAD_MAX_BYTES; registration-file imports: XLSX or CSV). The browser's content type and the file's
extension are never trusted: a renamed impostor is refused, a mislabelled real file gets the right
extension.
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from PIL import Image, UnidentifiedImageError
from werkzeug.datastructures import FileStorage

from marketplace.core.errors import ServiceError

MAX_FILENAME_CHARS = 120
# Readers look for the trailer in the last KiB (the PDF spec's own allowance for trailing junk).
PDF_EOF_WINDOW = 1024
UTF8_BOM = b"\xef\xbb\xbf"
# Text may hold tabs and line breaks; any other control byte means binary (in UTF-8 and in GBK alike,
# a byte below 0x80 is always that ASCII character, never part of a multi-byte one).
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A binary format that happens to contain no control byte (a text-only PDF, say) is still not text.
_BINARY_SIGNATURES = (b"%PDF-", b"PK\x03\x04", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"RIFF", b"MZ", b"\x7fELF")


class _Probe:
    """The bytes of one upload, each costly look (Pillow, zip directory, decoding) done at most once."""

    def __init__(self, data: bytes):
        self.data = data

    @cached_property
    def image_format(self) -> str | None:
        try:
            # Only the parsers of the formats we accept ever see the bytes.
            with Image.open(io.BytesIO(self.data), formats=list(_IMAGE_FORMATS)) as image:
                image_format = image.format
                image.verify()
        # Pillow reports damaged or foreign input through several exception types.
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
            return None
        return image_format

    @cached_property
    def zip_names(self) -> frozenset[str]:
        # The local-header signature at offset 0: zipfile alone would also accept any file with a zip
        # appended (a GIF/zip polyglot, say), since it reads the directory from the end.
        if not self.data.startswith(b"PK\x03\x04"):
            return frozenset()
        try:
            with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
                return frozenset(archive.namelist())
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
            return frozenset()

    @cached_property
    def text_encoding(self) -> str | None:
        """'utf-8', 'utf-8-sig' (with a byte-order mark) or 'gbk' (Excel's "CSV" on Chinese Windows)."""
        data = self.data
        if _CONTROL_BYTES.search(data) or data.startswith(_BINARY_SIGNATURES):
            return None
        for encoding in ("utf-8-sig", "gbk"):
            try:
                data.decode(encoding)
            except UnicodeDecodeError:
                continue
            if encoding == "utf-8-sig" and not data.startswith(UTF8_BOM):
                return "utf-8"
            return encoding
        return None


def _is_pdf(probe: _Probe) -> bool:
    return probe.data.startswith(b"%PDF-") and b"%%EOF" in probe.data[-PDF_EOF_WINDOW:]


def _is_xlsx(probe: _Probe) -> bool:
    names = probe.zip_names
    # A macro-enabled workbook (.xlsm) renamed .xlsx is not what a caller asking for XLSX wants.
    return (
        "[Content_Types].xml" in names
        and any(name.startswith("xl/") for name in names)
        and "xl/vbaProject.bin" not in names
    )


def _is_text(probe: _Probe) -> bool:
    return probe.text_encoding is not None


def _image(image_format: str) -> Callable[[_Probe], bool]:
    return lambda probe: probe.image_format == image_format


@dataclass(frozen=True, eq=False)  # each kind is one object, compared by identity
class Kind:
    """One kind of file a caller may accept: how to recognise it, and what to call and label it."""

    name: str
    content_type: str
    extensions: tuple[str, ...]  # the first is the one we give a file of this kind
    label: str
    matches: Callable[[_Probe], bool]

    @property
    def extension(self) -> str:
        return self.extensions[0]


PDF = Kind("pdf", "application/pdf", (".pdf",), "PDF", _is_pdf)
PNG = Kind("png", "image/png", (".png",), "PNG", _image("PNG"))
JPEG = Kind("jpeg", "image/jpeg", (".jpg", ".jpeg", ".jpe"), "JPEG", _image("JPEG"))
GIF = Kind("gif", "image/gif", (".gif",), "GIF", _image("GIF"))
WEBP = Kind("webp", "image/webp", (".webp",), "WebP", _image("WEBP"))
XLSX = Kind(
    "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    (".xlsx",),
    "Excel (XLSX)",
    _is_xlsx,
)
CSV = Kind("csv", "text/csv", (".csv",), "CSV", _is_text)
TEXT = Kind("text", "text/plain", (".txt",), _l("纯文本"), _is_text)

IMAGES = (PNG, JPEG, GIF, WEBP)
ALL_KINDS = (PDF, *IMAGES, XLSX, CSV, TEXT)
_IMAGE_FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}
_BY_CONTENT_TYPE = {kind.content_type: kind for kind in ALL_KINDS}


def kind_for(content_type: str) -> Kind:
    return _BY_CONTENT_TYPE[content_type]


def format_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


def detect(data: bytes, kinds: Sequence[Kind], filename: str | None = None) -> Kind | None:
    """Which of ``kinds`` the bytes are, or None.

    Where the bytes fit more than one (any text is CSV and plain text alike), the user's extension
    decides, then the caller's order.
    """
    probe = _Probe(data)
    matching = [kind for kind in kinds if kind.matches(probe)]
    suffix = os.path.splitext(filename or "")[1].lower()
    return next((kind for kind in matching if suffix in kind.extensions), matching[0] if matching else None)


def text_encoding(data: bytes) -> str | None:
    """The encoding a CSV or text upload decodes with, for the code that reads it."""
    return _Probe(data).text_encoding


def clean_filename(name: str | None, content_type: str) -> str:
    """The user's file name, kept readable (Chinese included) but safe to show and to send back.

    secure_filename() would turn「检测报告.pdf」into「pdf」, so instead: drop any path the browser
    sent, control and bidi-override characters, leading dots; make the extension match the content.
    """
    kind = kind_for(content_type)
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".").strip()
    stem, suffix = os.path.splitext(name)
    if suffix.lower() not in kind.extensions:
        # "photo.png" that is really a JPEG becomes "photo.jpg"; "方案v1.2" becomes "方案v1.2.pdf".
        if not any(suffix.lower() in known.extensions for known in ALL_KINDS):
            stem = name
        suffix = kind.extension
    stem = stem.strip() or _("附件")
    return stem[: MAX_FILENAME_CHARS - len(suffix)] + suffix


@dataclass(frozen=True)
class CheckedUpload:
    data: bytes
    kind: Kind
    filename: str  # cleaned, with the extension of its real kind
    encoding: str | None = None  # for text kinds

    @property
    def content_type(self) -> str:
        return self.kind.content_type

    @property
    def size(self) -> int:
        return len(self.data)


def check_upload(
    file_storage: FileStorage | None,
    kinds: Sequence[Kind],
    max_bytes: int,
    refused_message: str | None = None,
) -> CheckedUpload:
    """Read an uploaded file (never more than ``max_bytes`` + 1) and check it is one of ``kinds``.

    Raises ServiceError with a message for the user: nothing chosen, empty, too big (413), not an
    accepted kind (415, ``refused_message`` or a list of the accepted kinds).
    """
    if file_storage is None or not file_storage.filename:
        raise ServiceError(_("请选择要上传的文件"))
    data = file_storage.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ServiceError(_("文件不能超过 %(size)s", size=format_size(max_bytes)), 413)
    if not data:
        raise ServiceError(_("文件是空的，请重新选择"))
    kind = detect(data, kinds, file_storage.filename)
    if kind is None:
        labels = "/".join(str(accepted.label) for accepted in kinds)
        raise ServiceError(refused_message or _("只支持以下格式的文件：%(kinds)s", kinds=labels), 415)
    encoding = text_encoding(data) if kind.matches is _is_text else None
    return CheckedUpload(data, kind, clean_filename(file_storage.filename, kind.content_type), encoding)
