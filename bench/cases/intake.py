"""1. Intake over HTTP: submissions/s and latency, beside the trivial endpoint served the same way.

Only the web process runs (no relay, no workers): what is measured is the
face's own work per submission (schema, contact encryption, tracking code,
hash, signature, one SQLite commit), not the pipeline behind it.
"""

from __future__ import annotations

from bench.harness import Figure, Run, check_ok

CASE = "1 intake"

COMPLAINT = {
    "kind": "keluhan",
    "title": "Jalan berlubang di Jl. Awang Long",
    "body": "Lubang besar di depan pasar, sudah dua minggu belum diperbaiki.",
    "kelurahan": "Bontang Baru",
    "address": "Jl. Awang Long depan pasar",
    "reporter": {"name": "Siti", "phone": "0812-5555-0101"},
}


def trivial_post(run: Run) -> dict:
    """The trivial endpoint's POST rate; measured once per run, also the end-to-end baseline."""
    if "trivial_post" not in run.shared:
        with run.trivial() as base:
            raw = run.closed_load(base, ["/submit"], "POST", COMPLAINT)
        check_ok(raw, "trivial POST")
        run.shared["trivial_post"] = raw
    return run.shared["trivial_post"]


def run(r: Run) -> None:
    system = r.system("intake")
    system.start("web")
    raw = trivial_post(r)
    face = r.closed_load(str(system.http.base_url), ["/api/complaints"], "POST", COMPLAINT)
    check_ok(face, "POST /api/complaints")
    system.stop()
    baseline = "trivial POST, same server"
    r.add(Figure(CASE, "POST /api/complaints", face["rate"], "req/s", raw["rate"], baseline))
    r.add(Figure(CASE, "p50 latency", face["p50"], "s", raw["p50"], baseline, lower_is_better=True))
    r.add(Figure(CASE, "p99 latency", face["p99"], "s", raw["p99"], baseline, lower_is_better=True))
