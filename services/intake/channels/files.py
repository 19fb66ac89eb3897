"""Exports of posts, read for ``kesah import``: JSON Lines or CSV, one post per line or row.

Each record follows ``schema.PostSchema`` (CSV: a header row naming the
columns ``id``, ``text`` and any of the optional ones). A record that cannot
be a post is rejected with its line number and the reason; the rest go on.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from marshmallow import ValidationError

from . import Post
from .schema import POST, post_from

FORMATS = ("jsonl", "csv")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}


class UnreadableFile(Exception):
    """The file as a whole cannot be read as posts; the message says why."""


@dataclass(frozen=True)
class Record:
    line: int
    post: Post | None
    reason: str | None = None  # why it is not a post


def detect_format(path: Path) -> str | None:
    return _SUFFIXES.get(path.suffix.lower())


def _reason(errors: Any) -> str:
    if isinstance(errors, dict):
        return "; ".join(f"{field}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
                         for field, msgs in sorted(errors.items()))
    return " ".join(map(str, errors)) if isinstance(errors, list) else str(errors)


def _record(line: int, channel: str, data: Any) -> Record:
    try:
        return Record(line, post_from(channel, POST.load(data)))
    except ValidationError as exc:
        return Record(line, None, _reason(exc.messages))


def _jsonl(path: Path, channel: str) -> Iterator[Record]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
            except UnicodeDecodeError:
                yield Record(number, None, "not UTF-8 text")
                continue
            except ValueError as exc:
                yield Record(number, None, f"not valid JSON ({exc.msg})")
                continue
            if not isinstance(data, dict):
                yield Record(number, None, "not a JSON object")
                continue
            yield _record(number, channel, data)


def _csv(path: Path, channel: str) -> Iterator[Record]:
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile(f"{path} is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(content, newline=""))
    columns = set(reader.fieldnames or ())
    if not {"id", "text"} <= columns:
        raise UnreadableFile(f"{path} needs a header row with at least the columns id and text")
    try:
        for row in reader:
            if None in row:  # more cells than the header has columns
                yield Record(reader.line_num, None, f"{len(row[None])} cell(s) more than the header has columns")
                continue
            if not any((v or "").strip() for v in row.values()):
                continue
            yield _record(reader.line_num, channel, row)
    except csv.Error as exc:
        raise UnreadableFile(f"{path}, line {reader.line_num}: {exc}") from None


def read_posts(path: Path, channel: str, fmt: str) -> Iterator[Record]:
    if fmt not in FORMATS:
        raise ValueError(fmt)
    return _jsonl(path, channel) if fmt == "jsonl" else _csv(path, channel)


def count_lines(path: Path) -> int:
    """Lines in the file: the progress bar's total (records are never more)."""
    with path.open("rb") as fh:
        return sum(1 for _ in fh)
