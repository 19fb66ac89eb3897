"""Where a drill's services run: processes of this checkout, or containers of the image.

``python -m rehearsal --image`` (the full ``make rehearsal``) runs every
drill's services as containers of the image ``make image`` built, confined as
in production (rehearsal/image.py), so the broker and database drills test
what ships, not only the checkout.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.system import System

_image: str | None = None


def use_image(image: str | None) -> None:
    global _image
    _image = image


def image() -> str | None:
    return _image


def make_system(root: Path, vhost: str, database_urls: dict[str, str] | None = None,
                extra_env: dict[str, str] | None = None) -> "System":
    if _image is not None:
        from .image import make_system as containers

        system = containers(root, vhost, image=_image, database_urls=database_urls, extra_env=extra_env)
        print(f"   services: containers of {_image}", flush=True)
        return system
    from tests.support.system import System

    return System(root, vhost, database_urls, extra_env)
