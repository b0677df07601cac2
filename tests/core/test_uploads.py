"""Uploads: the type comes from the content, metadata (EXIF, GPS, XMP, text) never reaches storage,
orientation is honoured, size and pixel limits hold, and files are served privately."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, PngImagePlugin

from gongzhi.core import clock, uploads
from gongzhi.core.errors import DomainError
from gongzhi.core.models import Attachment
from gongzhi.core.roles import Role
from tests.factories import user_with

GPS_IFD = 0x8825
ORIENTATION = 0x0112
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="30,27.3N"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }
    return tmp_path / "media"


def photo_exif(*, orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Phone Maker"
    exif[0x0110] = "Phone Model X"
    if orientation:
        exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (30.0, 27.0, 18.0), 3: "E", 4: (105.0, 35.0, 6.0)})
    return exif


def jpeg(
    size=(400, 300), *, exif: Image.Exif | None = None, xmp: bytes | None = None, comment: bytes | None = None
) -> bytes:
    image = Image.new("RGB", size, (180, 40, 40))
    image.paste((20, 60, 200), (0, 0, size[0] // 2, size[1] // 4))  # a block at top left, to see rotation
    options = {}
    if exif is not None:
        options["exif"] = exif
    if xmp is not None:
        options["xmp"] = xmp
    if comment is not None:
        options["comment"] = comment
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **options)
    return buffer.getvalue()


def png(size=(300, 200), mode="RGBA", *, text: dict | None = None, exif: Image.Exif | None = None) -> bytes:
    image = Image.new(mode, size, (10, 120, 60, 128) if mode == "RGBA" else (10, 120, 60))
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, value)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=info, **({"exif": exif} if exif is not None else {}))
    return buffer.getvalue()


def reopen(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


# ---------------------------------------------------------------- clean_image


def test_jpeg_loses_exif_gps_and_xmp(db):
    original = jpeg(exif=photo_exif(), xmp=XMP, comment=b"Zhongshan Road 3")
    before = reopen(original)
    assert before.getexif().get_ifd(GPS_IFD)  # the test image really carries a location
    assert "xmp" in before.info and "comment" in before.info and b"Phone Model X" in original

    clean = uploads.clean_image(original, name="现场照片.jpg")

    assert (clean.content_type, clean.extension) == ("image/jpeg", ".jpg")
    after = reopen(clean.content)
    assert after.format == "JPEG"
    assert dict(after.getexif()) == {} and after.getexif().get_ifd(GPS_IFD) == {}
    assert "exif" not in after.info and "xmp" not in after.info and "comment" not in after.info
    for marker in (b"Exif\x00\x00", b"Phone Model X", b"adobe:ns:meta", b"GPSLatitude", b"Zhongshan"):
        assert marker not in clean.content
    assert (clean.width, clean.height) == (400, 300) == after.size
    assert clean.sha256 == hashlib.sha256(clean.content).hexdigest()


def test_png_stays_png_without_text_or_exif(db):
    original = png(text={"Author": "张三", "Comment": "住址：某某小区 3 栋"}, exif=photo_exif())
    clean = uploads.clean_image(original, name="截图.png")
    assert (clean.content_type, clean.extension) == ("image/png", ".png")
    after = reopen(clean.content)
    assert after.format == "PNG" and after.mode == "RGBA"
    assert after.getpixel((5, 5)) == (10, 120, 60, 128)  # transparency kept
    assert "Author" not in after.info and "Comment" not in after.info and "exif" not in after.info
    assert "张三".encode() not in clean.content and b"eXIf" not in clean.content


def test_palette_png_keeps_its_transparency(db):
    image = Image.new("P", (50, 50), 1)
    image.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", transparency=1)
    after = reopen(uploads.clean_image(buffer.getvalue()).content)
    assert after.mode == "P" and after.info.get("transparency") == 1


def test_webp_is_accepted_and_stays_webp(db):
    buffer = io.BytesIO()
    Image.new("RGB", (120, 80), (1, 2, 3)).save(buffer, "WEBP", exif=photo_exif())
    clean = uploads.clean_image(buffer.getvalue())
    assert (clean.content_type, clean.extension, clean.width, clean.height) == (
        "image/webp",
        ".webp",
        120,
        80,
    )
    after = reopen(clean.content)
    assert after.format == "WEBP" and "exif" not in after.info and b"Phone Model X" not in clean.content


def test_exif_orientation_is_applied(db):
    original = jpeg((400, 200), exif=photo_exif(orientation=6))  # 6: rotate 90° clockwise to view
    clean = uploads.clean_image(original)
    assert (clean.width, clean.height) == (200, 400)
    after = reopen(clean.content)
    assert after.size == (200, 400) and ORIENTATION not in after.getexif()
    # The blue block at the stored top left is at the top right once turned clockwise.
    r, g, b = after.getpixel((190, 10))
    assert b > 150 and r < 80
    r, g, b = after.getpixel((10, 10))
    assert r > 150 and b < 80


def test_large_images_are_downscaled_to_2560_on_the_longest_side(db):
    clean = uploads.clean_image(jpeg((4000, 1000)))
    assert (clean.width, clean.height) == (2560, 640)
    assert reopen(clean.content).size == (2560, 640)
    clean = uploads.clean_image(png((1000, 3000), mode="RGB"))
    assert (clean.width, clean.height) == (853, 2560)


def test_cmyk_jpeg_becomes_rgb(db):
    buffer = io.BytesIO()
    Image.new("CMYK", (64, 64), (0, 255, 255, 0)).save(buffer, "JPEG")
    after = reopen(uploads.clean_image(buffer.getvalue()).content)
    assert after.mode == "RGB"


@pytest.mark.parametrize(
    "content",
    [
        b"hello, this is a text file",
        b"",
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        jpeg()[:200],  # truncated
    ],
    ids=["text", "empty", "gif", "svg", "truncated-jpeg"],
)
def test_non_images_are_rejected_whatever_their_name_says(db, content):
    upload = SimpleUploadedFile("photo.jpg", content, content_type="image/jpeg")
    with pytest.raises(DomainError) as caught:
        uploads.clean_image(upload)
    assert caught.value.code == "upload.not_image"
    assert "photo.jpg" in caught.value.message and "JPEG" in caught.value.message


def test_heic_is_rejected_with_advice(db):
    heic = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    with pytest.raises(DomainError) as caught:
        uploads.clean_image(heic, name="IMG_0001.HEIC")
    assert caught.value.code == "upload.not_image"
    assert "IMG_0001.HEIC" in caught.value.message and "HEIC" in caught.value.message


def test_over_size_files_are_rejected(db, settings):
    data = jpeg()
    with pytest.raises(DomainError) as caught:
        uploads.clean_image(data, max_bytes=len(data) - 1, name="大图.jpg")
    assert caught.value.code == "upload.too_large" and "大图.jpg" in caught.value.message
    assert uploads.clean_image(data, max_bytes=len(data)).width == 400
    settings.GONGZHI_UPLOAD_MAX_BYTES = 1000
    upload = SimpleUploadedFile("现场.jpg", data, content_type="image/jpeg")
    with pytest.raises(DomainError) as caught:
        uploads.clean_image(upload)
    assert caught.value.code == "upload.too_large" and "现场.jpg" in caught.value.message


def test_size_limit_holds_for_streams_without_a_size(db):
    class Stream(io.RawIOBase):  # reports no size, like a socket
        def __init__(self):
            self.served = 0

        def readable(self):
            return True

        def read(self, n=-1):
            n = 1 << 20 if n is None or n < 0 else n
            self.served += n
            return b"\xff" * n

    stream = Stream()
    with pytest.raises(DomainError) as caught:
        uploads.clean_image(stream, max_bytes=1000)
    assert caught.value.code == "upload.too_large"
    assert stream.served == 1001  # read one byte past the limit, no more


def test_too_many_pixels_are_rejected(db):
    from django.utils import translation

    with translation.override("zh-hans"), pytest.raises(DomainError) as caught:
        uploads.clean_image(png((200, 100), mode="RGB"), max_pixels=19_999, name="全景.png")
    assert caught.value.code == "upload.too_many_pixels"
    assert caught.value.message == "图片“全景.png”的像素过多，最多允许 19,999 像素"
    assert uploads.clean_image(png((200, 100), mode="RGB"), max_pixels=20_000).width == 200


def test_decompression_bomb_is_rejected_before_decoding(db):
    """A tiny PNG declaring 30000 × 30000 pixels: refused from its header alone."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 100))
        + chunk(b"IEND", b"")
    )
    assert len(bomb) < 200
    with pytest.raises(DomainError) as caught:
        uploads.clean_image(bomb)
    assert caught.value.code == "upload.too_many_pixels"


def test_messages_have_english_translations(db):
    from django.utils import translation

    with translation.override("en"), pytest.raises(DomainError) as caught:
        uploads.clean_image(b"text", name="a.jpg")
    assert (
        caught.value.message
        == "The file “a.jpg” is not a recognisable image; upload a JPEG, PNG or WebP image"
    )


# ---------------------------------------------------------------- storing and serving


def test_store_image_saves_clean_bytes_whose_hash_matches(tree, media, frozen_clock):
    actor = user_with(Role.GRID_WORKER, tree.grid_a1)
    upload = SimpleUploadedFile(
        "C:\\Users\\张三\\现场.jpg", jpeg(exif=photo_exif()), content_type="image/png"
    )
    attachment = uploads.store_image(actor, upload)

    attachment.refresh_from_db()
    stored = attachment.file.read()
    attachment.file.close()
    assert hashlib.sha256(stored).hexdigest() == attachment.sha256
    assert attachment.size == len(stored)
    assert b"Phone Model X" not in stored and reopen(stored).getexif().get_ifd(GPS_IFD) == {}
    assert attachment.content_type == "image/jpeg"  # from the content, not the declared type
    assert (attachment.width, attachment.height) == (400, 300)
    assert attachment.original_name == "现场.jpg"  # no client directories kept
    assert attachment.uploaded_by == actor and attachment.uploaded_at == frozen_clock.at
    name = attachment.file.name
    assert name.startswith("attachments/") and name.endswith(".jpg") and "现场" not in name
    assert (media / name).is_file()
    assert (media / name).stat().st_mode & 0o777 == 0o640  # not readable by other local accounts


def test_store_image_rejects_without_writing_anything(tree, media):
    actor = user_with(Role.GRID_WORKER, tree.grid_a1)
    with pytest.raises(DomainError):
        uploads.store_image(actor, SimpleUploadedFile("a.jpg", b"not an image"))
    assert Attachment.objects.count() == 0
    assert not (media / "attachments").exists()


def test_file_response_is_private_inline_and_not_sniffable(tree):
    attachment = uploads.store_image(None, io.BytesIO(png(mode="RGB")), original_name="平面图.png")
    response = uploads.file_response(attachment)
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == attachment.sha256
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert "filename*=utf-8''%E5%B9%B3%E9%9D%A2%E5%9B%BE.png" in response["Content-Disposition"]
    assert response["Cache-Control"].startswith("private")
    assert "sandbox" in response["Content-Security-Policy"]


def test_file_response_for_a_missing_file_is_404(tree):
    from django.http import Http404

    attachment = uploads.store_image(None, jpeg())
    attachment.file.storage.delete(attachment.file.name)
    with pytest.raises(Http404):
        uploads.file_response(attachment)


def test_orphan_files_are_pruned_after_a_day(tree, media):
    kept = uploads.store_image(None, jpeg())
    orphan = uploads.store_image(None, png())
    orphan_path = media / orphan.file.name
    Attachment.objects.filter(pk=orphan.pk).delete()  # as if its transaction had rolled back

    assert uploads.prune_orphan_files() == 0  # too recent: its transaction may still be open
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=2)):
        assert uploads.prune_orphan_files() == 1
    assert not orphan_path.exists()
    assert (media / kept.file.name).exists()


def test_pruning_with_no_uploads_yet_does_nothing(db):
    assert uploads.prune_orphan_files() == 0
