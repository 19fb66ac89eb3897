"""``python3 -m rehearsal.source``: a digest of what the image is built from (the build context).

scripts/build-image labels the image with it; the image drill and its tests refuse an image built
from other sources than the clone's (a drill would otherwise test yesterday's code). Standard
library only: the build script runs it with the machine's python3.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What .dockerignore lets into the build context.
FILES = ("Dockerfile", "pyproject.toml", "README.md", "requirements.lock")
TREES = ("kesah", "services")
LABEL = "org.kesah.source-digest"


def digest(root: Path = ROOT) -> str:
    paths = [root / name for name in FILES]
    for tree in TREES:
        paths += [p for p in (root / tree).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    sha = hashlib.sha256()
    for path in sorted(paths):
        sha.update(path.relative_to(root).as_posix().encode() + b"\0")
        sha.update(hashlib.sha256(path.read_bytes()).digest())
    return sha.hexdigest()


if __name__ == "__main__":
    print(digest())
