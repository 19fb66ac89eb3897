"""5. Public reads: ``/``, ``/aduan/{code}`` and ``/api/complaints/{code}`` with a full view, beside the trivial endpoint.

The view is a generated one (bench/generate.py) with at least 100k
complaints (``--view-complaints``); only the web process runs, on SQLite
files as ``kesah up`` makes them. The load generator asks for a random
complaint of a thousand public ones per request. The baseline is the
trivial endpoint's ``GET /read/{code}`` (a small JSON answer, no database)
served the same way, by the same ``kesah.http.serve``.
"""

from __future__ import annotations

from bench.generate import dataset_with_complaints
from bench.harness import Figure, Run, check_ok

CASE = "5 reads"
TARGET = 0.5


def run(r: Run) -> None:
    data = dataset_with_complaints(r.cache, r.sizes.view_complaints)
    target = r.work / "reads"
    data.copy(target, ("publicview",))
    codes = data.codes[:1000]
    with r.trivial() as base:
        raw = r.closed_load(base, [f"/read/{c}" for c in codes])
    check_ok(raw, "trivial GET")
    pages = {
        "GET /": ["/"],
        "GET /aduan/{code}": [f"/aduan/{c}" for c in codes],
        "GET /api/complaints/{code}": [f"/api/complaints/{c}" for c in codes],
    }
    # Warm: as served (pages kept in memory while the projection is unchanged, services/publicview/pagecache.py);
    # cold: KESAH_PAGE_CACHE=off, every read from the database, as on PostgreSQL or while events stream in.
    for state, env in (("cached", {}), ("uncached", {"KESAH_PAGE_CACHE": "off"})):
        system = r.system("reads", extra_env=env)  # its data directory is ``target``: the view is there before it starts
        system.start("web")
        for name, paths in pages.items():
            result = r.closed_load(str(system.http.base_url), paths)
            check_ok(result, name)
            r.add(Figure(CASE, f"{name}, {data.complaints:,} in view, {state}", result["rate"], "req/s", raw["rate"],
                         "trivial GET, same server", target=TARGET,
                         note=f"p50 {result['p50'] * 1000:.1f} ms, p99 {result['p99'] * 1000:.1f} ms"))
        system.stop()
