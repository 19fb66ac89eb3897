"""A reporter's photo keeps its picture and loses everything else."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from services.intake import photos
from tests.support.photos import jpeg_with_gps

LIMIT = 5 * 1024 * 1024


def test_exif_gps_and_comments_are_gone_and_the_picture_stays() -> None:
    raw = jpeg_with_gps("Siti Rahmawati")
    assert b"Siti Rahmawati" in raw and Image.open(io.BytesIO(raw)).getexif().get_ifd(0x8825)
    photo = photos.clean(raw, LIMIT)
    assert photo.content_type == "image/jpeg" and (photo.width, photo.height) == (640, 480)
    assert b"Siti" not in photo.data and b"Exif" not in photo.data and b"KameraMerek" not in photo.data
    image = Image.open(io.BytesIO(photo.data))
    assert dict(image.getexif()) == {} and "comment" not in image.info and "exif" not in image.info
    assert image.getpixel((4, 10))[0] < 60 and image.getpixel((25, 10))[0] > 150  # same picture
    assert photo.size == len(photo.data) and len(photo.sha256) == 64


def test_the_photo_is_turned_upright_before_its_orientation_tag_is_dropped() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    out = io.BytesIO()
    Image.new("RGB", (300, 100), "white").save(out, "JPEG", exif=exif)
    photo = photos.clean(out.getvalue(), LIMIT)
    assert (photo.width, photo.height) == (100, 300)


def test_transparency_is_kept_as_png() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (50, 40), (0, 0, 0, 0)).save(out, "PNG")
    photo = photos.clean(out.getvalue(), LIMIT)
    assert photo.content_type == "image/png"
    assert Image.open(io.BytesIO(photo.data)).mode == "RGBA"


def test_large_photos_are_made_smaller() -> None:
    out = io.BytesIO()
    Image.new("RGB", (5000, 1000), "red").save(out, "JPEG")
    photo = photos.clean(out.getvalue(), LIMIT)
    assert (photo.width, photo.height) == (2560, 512)


@pytest.mark.parametrize("raw, message", [
    (b"", "kosong"),
    (b"GIF89a" + b"\x00" * 100, "bukan foto"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "bukan foto"),
    (jpeg_with_gps("x")[:2000], "rusak"),
])
def test_what_is_not_a_photo_is_refused_in_indonesian(raw: bytes, message: str) -> None:
    with pytest.raises(photos.PhotoRejected, match=message):
        photos.clean(raw, LIMIT)


def test_a_gif_is_not_accepted_even_when_pillow_reads_it() -> None:
    out = io.BytesIO()
    Image.new("P", (10, 10)).save(out, "GIF")
    with pytest.raises(photos.PhotoRejected, match="JPEG, PNG atau WebP"):
        photos.clean(out.getvalue(), LIMIT)


def test_size_and_pixel_limits() -> None:
    with pytest.raises(photos.PhotoRejected, match="paling besar 1 MB"):
        photos.clean(b"x" * (1024 * 1024 + 1), 1024 * 1024)
    out = io.BytesIO()
    Image.new("1", (8000, 6000)).save(out, "PNG")  # 48 megapixels, a few kilobytes: a decompression bomb
    with pytest.raises(photos.PhotoRejected, match="40 megapiksel"):
        photos.clean(out.getvalue(), LIMIT)
