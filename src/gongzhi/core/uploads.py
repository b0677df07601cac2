"""Image uploads: type sniffed from the content, metadata stripped, downscaled — then stored privately.

    attachment = uploads.store_image(actor, request.FILES["photo"])  # in the owning module's service
    return uploads.file_response(attachment)                          # in its view, after the scope check

`clean_image()` decides the type from the bytes with Pillow (JPEG, PNG and WebP; never from the file
name or the declared content type), applies the EXIF orientation, and re-encodes the pixels without
any EXIF, XMP, GPS or comment metadata (a phone photo's EXIF carries where it was taken). Only the
ICC colour profile is kept, so colours stay right. Files live under the default storage (var/media)
and are never served from a public URL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import math
import posixpath
import uuid
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.http import FileResponse, Http404
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from gongzhi.core import clock
from gongzhi.core.errors import DomainError
from gongzhi.core.models import Attachment, User

logger = logging.getLogger(__name__)

MAX_SIDE = 2560  # longest side after downscaling, in pixels
MAX_PIXELS = 40_000_000
JPEG_QUALITY = 85
WEBP_QUALITY = 85
UPLOAD_DIR = "attachments"

# Pillow format → (output format, content type, extension). MPO is how Pillow names the multi-picture
# JPEGs many phone cameras write; only its first (main) picture is kept.
_FORMATS = {
    "JPEG": ("JPEG", "image/jpeg", ".jpg"),
    "MPO": ("JPEG", "image/jpeg", ".jpg"),
    "PNG": ("PNG", "image/png", ".png"),
    "WEBP": ("WEBP", "image/webp", ".webp"),
}
# Modes each output format stores as they are; anything else is converted first.
_KEEP_MODES = {
    "JPEG": {"L", "RGB"},
    "PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"},
    "WEBP": {"RGB", "RGBA"},
}
# HEIF/HEIC/AVIF files are ISO-BMFF: "ftyp" at offset 4, then the brand.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}


@dataclass(frozen=True)
class CleanImage:
    """An image ready to store: re-encoded bytes and what they are."""

    content: bytes
    content_type: str  # image/jpeg, image/png or image/webp
    extension: str  # ".jpg", ".png" or ".webp"
    width: int
    height: int
    sha256: str  # of `content`


def clean_image(
    data,
    *,
    max_bytes: int | None = None,
    max_pixels: int = MAX_PIXELS,
    name: str = "",
) -> CleanImage:
    """Check and clean an uploaded image given as bytes or a file-like object (e.g. an UploadedFile).

    Raises DomainError `upload.too_large` (more than `max_bytes`, default
    settings.GONGZHI_UPLOAD_MAX_BYTES), `upload.not_image` (not a readable JPEG, PNG or WebP image)
    or `upload.too_many_pixels` (more than `max_pixels` before downscaling). Messages name the file
    (`name`, or the uploaded file's own name).
    """
    limit = settings.GONGZHI_UPLOAD_MAX_BYTES if max_bytes is None else max_bytes
    label = display_name(name or getattr(data, "name", "") or "") or _("未命名文件")
    raw = _read(data, limit, label)
    if not raw:
        raise _not_image(label)
    try:
        with warnings.catch_warnings():
            # Pillow's own guard against decompression bombs, as an error rather than a warning.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=["JPEG", "PNG", "WEBP"])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(label, max_pixels) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _not_image(label, heif=raw[4:8] == b"ftyp" and raw[8:12] in _HEIF_BRANDS) from exc
    if image.format not in _FORMATS:
        raise _not_image(label)
    out_format, content_type, extension = _FORMATS[image.format]
    if image.width * image.height > max_pixels:
        raise _too_many_pixels(label, max_pixels)
    try:
        longest = max(image.size)
        if longest > MAX_SIDE:
            # JPEG can decode at 1/2, 1/4 or 1/8 scale, much faster; Pillow picks the smallest that
            # still covers the final size. Other formats ignore this.
            image.draft(None, tuple(math.ceil(side * MAX_SIDE / longest) for side in image.size))
        image.load()
        image = ImageOps.exif_transpose(image)
        if max(image.size) > MAX_SIDE:
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        content = _encode(image, out_format)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise _not_image(label) from exc
    return CleanImage(
        content=content,
        content_type=content_type,
        extension=extension,
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def _read(data, limit: int, label: str) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    else:
        size = getattr(data, "size", None)
        if isinstance(size, int) and size > limit:
            raise _too_large(label, limit)
        try:
            data.seek(0)  # an UploadedFile may have been read before
        except (AttributeError, OSError):  # a stream that cannot seek is read from where it is
            pass
        raw = data.read(limit + 1)  # never more than one byte past the limit
    if len(raw) > limit:
        raise _too_large(label, limit)
    return raw


def _encode(image: Image.Image, out_format: str) -> bytes:
    icc_profile = image.info.get("icc_profile")
    if image.mode not in _KEEP_MODES[out_format]:
        has_alpha = out_format != "JPEG" and image.has_transparency_data
        image = image.convert("RGBA" if has_alpha else "RGB")
        icc_profile = None  # it described the old colour space
    # Start from no metadata at all: only what is passed explicitly below is written.
    transparency = image.info.get("transparency")
    image.info = {}
    options: dict = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if out_format == "JPEG":
        options.update(quality=JPEG_QUALITY, optimize=True)
    elif out_format == "WEBP":
        options.update(quality=WEBP_QUALITY)
    elif transparency is not None:
        options["transparency"] = transparency
    buffer = io.BytesIO()
    image.save(buffer, out_format, **options)
    return buffer.getvalue()


def display_name(name: str) -> str:
    """The last part of a client-supplied file name, without directories or control characters."""
    name = posixpath.basename(str(name).replace("\\", "/"))
    return "".join(c for c in name if c.isprintable()).strip()[:255]


def _too_large(label: str, limit: int) -> DomainError:
    return DomainError(
        "upload.too_large",
        _("文件“%(name)s”超过了 %(limit)s 的大小上限") % {"name": label, "limit": filesizeformat(limit)},
    )


def _not_image(label: str, *, heif: bool = False) -> DomainError:
    if heif:
        message = _(
            "文件“%(name)s”是 HEIC/HEIF 格式，暂不支持。请在手机相机设置中选择“兼容性最佳”，"
            "或转换为 JPEG 后再上传"
        )
    else:
        message = _("文件“%(name)s”不是可识别的图片，请上传 JPEG、PNG 或 WebP 格式的图片")
    return DomainError("upload.not_image", message % {"name": label})


def _too_many_pixels(label: str, max_pixels: int) -> DomainError:
    return DomainError(
        "upload.too_many_pixels",
        _("图片“%(name)s”的像素过多，最多允许 %(max)s 像素") % {"name": label, "max": f"{max_pixels:,}"},
    )


# ---------------------------------------------------------------- storing and serving


def store_image(actor, uploaded, *, original_name: str = "") -> Attachment:
    """Clean an uploaded image and store it as an Attachment under a random name.

    The calling service checks permission, links the attachment to its record and audits. The file
    is written at once; if the service's transaction then rolls back, `prune_orphan_files` removes it.
    """
    name = display_name(original_name or getattr(uploaded, "name", "") or "")
    image = clean_image(uploaded, name=name)
    attachment = Attachment(
        content_type=image.content_type,
        size=len(image.content),
        sha256=image.sha256,
        width=image.width,
        height=image.height,
        original_name=name,
        uploaded_by=actor if isinstance(actor, User) and actor.pk else None,
        uploaded_at=clock.now(),
    )
    # The stored name says nothing about the file (original names often carry a person's name).
    attachment.file.save(f"{uuid.uuid4().hex}{image.extension}", ContentFile(image.content), save=False)
    try:
        attachment.save()
    except BaseException:
        attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


def file_response(attachment: Attachment) -> FileResponse:
    """Serve an attachment's file to someone the calling view has already checked may see it."""
    storage = attachment.file.storage
    try:
        handle = storage.open(attachment.file.name, "rb")
    except FileNotFoundError as exc:
        logger.error("attachment %s: file %s is missing from storage", attachment.pk, attachment.file.name)
        raise Http404 from exc
    stem = posixpath.splitext(display_name(attachment.original_name))[0]
    extension = posixpath.splitext(attachment.file.name)[1]
    response = FileResponse(
        handle,
        content_type=attachment.content_type,
        as_attachment=False,
        filename=f"{stem or attachment.sha256[:12]}{extension}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Only the viewer's own browser may keep a copy; shared caches and proxies must not.
    response["Cache-Control"] = "private, max-age=3600"
    # Opened on its own, the file can run nothing (the policy GitHub uses for raw user content).
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response


def prune_orphan_files(*, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Delete stored files no Attachment refers to (left by rolled-back services or deleted rows).

    Only files older than `older_than` are considered, so an upload whose transaction is still open
    is never touched. Returns how many files were deleted.
    """
    storage = Attachment._meta.get_field("file").storage
    cutoff = clock.now() - older_than
    deleted = 0
    for directory, files in _walk(storage, UPLOAD_DIR):
        names = [posixpath.join(directory, f) for f in files]
        known: set[str] = set()
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            known.update(Attachment.objects.filter(file__in=chunk).values_list("file", flat=True))
        for name in names:
            if name in known:
                continue
            try:
                if storage.get_modified_time(name) >= cutoff:
                    continue
                storage.delete(name)
            except FileNotFoundError:
                continue
            deleted += 1
    return deleted


def _walk(storage, directory: str):
    try:
        subdirs, files = storage.listdir(directory)
    except FileNotFoundError:
        return
    if files:
        yield directory, files
    for sub in sorted(subdirs):
        yield from _walk(storage, posixpath.join(directory, sub))
