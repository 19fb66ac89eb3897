"""A reporter's photo, made safe to publish: type checked, size limited, metadata stripped.

The photo is decoded and re-encoded from its pixels alone, so nothing of the
original file survives but the picture: no EXIF (camera, time, GPS
position), no XMP, no comments, no ICC profile, no trailing bytes. It is
turned upright first (EXIF orientation), shrunk to at most ``MAX_SIDE``
pixels on its long side, and stored as JPEG (PNG when it has transparency).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
ACCEPTED_TYPES = "image/jpeg,image/png,image/webp"
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding
MAX_SIDE = 2560


class PhotoRejected(ValueError):
    """The upload is not a photo we take; the message says why, in Indonesian."""


@dataclass(frozen=True)
class Photo:
    data: bytes
    content_type: str
    width: int
    height: int

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def megabytes(limit: int) -> str:
    return f"{limit / (1024 * 1024):.0f} MB"


def clean(raw: bytes, max_bytes: int) -> Photo:
    if not raw:
        raise PhotoRejected("Berkas foto kosong.")
    if len(raw) > max_bytes:
        raise PhotoRejected(f"Foto terlalu besar: paling besar {megabytes(max_bytes)}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
            if image.format not in ACCEPTED_FORMATS:
                raise PhotoRejected("Foto harus berformat JPEG, PNG atau WebP.")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise PhotoRejected("Ukuran gambar terlalu besar (lebih dari 40 megapiksel).")
            image.load()
            image = ImageOps.exif_transpose(image)
    except PhotoRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected("Berkas ini bukan foto yang dapat dibaca (JPEG, PNG atau WebP).") from None
    except (OSError, ValueError, SyntaxError):  # truncated or corrupt data
        raise PhotoRejected("Berkas foto rusak atau tidak lengkap.") from None
    has_alpha = image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    # A new image from the pixels alone: no info dict, nothing to leak on save.
    bare = Image.frombytes(image.mode, image.size, image.tobytes())
    out = io.BytesIO()
    if has_alpha:
        bare.save(out, "PNG", optimize=True)
        content_type = "image/png"
    else:
        bare.save(out, "JPEG", quality=85, optimize=True)
        content_type = "image/jpeg"
    return Photo(out.getvalue(), content_type, bare.width, bare.height)
