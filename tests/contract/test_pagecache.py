"""Public pages are answered from memory only while the projection's SQLite file has not changed.

Real SQLite files; another connection (as publicview's worker would) commits between requests.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from kesah.metrics import render
from services.publicview.pagecache import PageCache


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def served(path: Path, url: str, clock: Clock, enabled: bool = True,
           max_bytes: int = 1 << 20) -> tuple[TestClient, PageCache, list[str]]:
    cache = PageCache(url, max_age=5.0, clock=clock, enabled=enabled, max_bytes=max_bytes)
    reads: list[str] = []

    async def page(request: Request) -> Response:
        with closing(sqlite3.connect(path)) as conn:
            (value,) = conn.execute("SELECT value FROM projection").fetchone()
        reads.append(value)
        if value == "missing":
            return PlainTextResponse("tidak ada", status_code=404)
        return PlainTextResponse(f"{request.url.path}:{value}", headers={"x-made": str(len(reads))})

    app = Starlette(routes=[Route("/{name}", cache.serve(page), methods=["GET", "POST"])])
    return TestClient(app), cache, reads


def projection(path: Path, value: str) -> None:
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS projection (value TEXT)")
        conn.execute("DELETE FROM projection")
        conn.execute("INSERT INTO projection VALUES (?)", (value,))


def test_a_page_is_served_from_memory_until_another_connection_commits(tmp_path: Path) -> None:
    db = tmp_path / "publicview.db"
    projection(db, "diterima")
    client, cache, reads = served(db, f"sqlite:///{db}", Clock())

    first, again = client.get("/a"), client.get("/a")
    assert (first.text, again.text) == ("/a:diterima", "/a:diterima")
    assert again.headers["x-made"] == "1" and reads == ["diterima"]
    assert client.get("/a?halaman=2").text == "/a:diterima" and len(reads) == 2  # the query is part of the page

    projection(db, "dijawab")
    assert client.get("/a").text == "/a:dijawab" and len(reads) == 3
    assert client.get("/a").text == "/a:dijawab" and len(reads) == 3
    assert (cache.hits, cache.misses) == (2, 3)
    text = render(cache.families())
    assert 'kesah_page_cache_reads_total{result="hit"} 2' in text and 'kesah_page_cache_reads_total{result="miss"} 3' in text


def test_a_database_file_replaced_by_a_replay_is_read_again(tmp_path: Path) -> None:
    db = tmp_path / "publicview.db"
    projection(db, "lama")
    client, _, reads = served(db, f"sqlite:///{db}", Clock())
    assert client.get("/a").text == "/a:lama"
    for name in ("publicview.db", "publicview.db-wal", "publicview.db-shm"):  # the incident
        (tmp_path / name).unlink(missing_ok=True)
    projection(db, "baru")  # kesah replay publicview
    assert client.get("/a").text == "/a:baru" and reads == ["lama", "baru"]


def test_an_answer_older_than_max_age_is_made_again(tmp_path: Path) -> None:
    db = tmp_path / "publicview.db"
    projection(db, "diproses")
    clock = Clock()
    client, _, reads = served(db, f"sqlite:///{db}", clock)
    client.get("/a")
    clock.now = 4.9
    client.get("/a")
    clock.now = 5.1
    client.get("/a")
    assert len(reads) == 2


def test_errors_and_posts_are_never_kept(tmp_path: Path) -> None:
    db = tmp_path / "publicview.db"
    projection(db, "missing")
    client, _, reads = served(db, f"sqlite:///{db}", Clock())
    assert [client.get("/a").status_code for _ in range(2)] == [404, 404]
    projection(db, "ada")
    client.post("/a")
    client.post("/a")
    assert len(reads) == 4


def test_nothing_is_kept_for_postgresql_or_when_switched_off(tmp_path: Path) -> None:
    db = tmp_path / "publicview.db"
    projection(db, "diterima")
    for url, enabled in (("postgresql://kesah@127.0.0.1/publicview", True), (f"sqlite:///{db}", False)):
        client, cache, reads = served(db, url, Clock(), enabled)
        client.get("/a")
        client.get("/a")
        assert len(reads) == 2 and cache.version() is None


def test_the_pages_kept_fit_in_their_budget_the_least_recent_go_first(tmp_path: Path) -> None:
    db = tmp_path / "publicview.db"
    projection(db, "x" * 100)
    client, _, reads = served(db, f"sqlite:///{db}", Clock(), max_bytes=250)  # room for two answers of ~103 bytes
    for path in ("/a", "/b", "/c", "/c", "/b", "/a"):
        client.get(path)
    assert len(reads) == 4  # /c and /b were kept; /a had been dropped for /c
