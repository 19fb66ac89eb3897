"""Photos as phones make them: JPEG with EXIF, including who took it and where (GPS)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, TiffImagePlugin

ARTIST = 0x013B
GPS_IFD = 0x8825


def jpeg_with_gps(artist: str, size: tuple[int, int] = (640, 480)) -> bytes:
    image = Image.new("RGB", size, (200, 60, 40))
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 40):  # dark stripes 10 pixels wide at x = 0, 40, 80, ...
        draw.rectangle((x, 0, x + 9, size[1]), fill=(20, 20, 20))
    exif = Image.Exif()
    exif[ARTIST] = artist
    exif[0x010F] = "KameraMerek"  # Make
    gps = exif.get_ifd(GPS_IFD)
    ratio = TiffImagePlugin.IFDRational
    gps[1] = "N"
    gps[2] = (ratio(0), ratio(7), ratio(30))
    gps[3] = "E"
    gps[4] = (ratio(117), ratio(29), ratio(59))
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90, comment=f"diambil oleh {artist}".encode())
    return out.getvalue()
