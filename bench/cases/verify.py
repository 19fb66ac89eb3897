"""6. Verification: ``kesah verify`` events/s beside the raw SHA-256 and Ed25519 verify rate of cryptography.

``kesah verify all --json`` runs as an operator runs it, in a process of its
own, over a generated installation (bench/generate.py; ``--verify-events``):
every owner's store and publicview's journal (positions, hash chain,
signatures, schema), then publicview's projection against its journal.
The figure is the events checked over the seconds the log checks took
(the reports' own clocks; the projection comparison and the interpreter's
start are left out and noted).

The baseline does only the cryptography per event, with the
``cryptography`` package on the same events, already in memory as bytes:
SHA-256 of the bytes that are hashed (the previous hash and the canonical
event) and the Ed25519 verify of the stored signature over the digest,
one thread. ``kesah verify`` checks signatures in a second thread (the
library releases the GIL), so it may exceed 100% of one thread's rate.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bench.generate import Dataset, dataset
from bench.harness import ROOT, Figure, Run
from kesah import signing
from kesah.eventstore import EventStore

CASE = "6 verify"
TARGET = 0.7
SAMPLE = 50_000  # events the raw rate is measured on (a rate: more would only take longer)


def raw_crypto(data: Dataset) -> tuple[int, float]:
    """SHA-256 and Ed25519 verify of up to SAMPLE intake events, bytes prepared beforehand; (events, seconds)."""
    key = Ed25519PublicKey.from_public_bytes(
        base64.b64decode((data.keys / "intake.pub").read_text().strip()))
    store = EventStore.from_url(data.url("intake"), "intake")
    try:
        work = []
        for event in store.read(limit=SAMPLE):
            message = event.prev_hash.encode("ascii") + signing.canonical(event.hashed_body())
            work.append((message, base64.b64decode(event.signature)))
    finally:
        store.engine.dispose()
    started = time.perf_counter()
    for message, signature in work:
        digest = hashes.Hash(hashes.SHA256())
        digest.update(message)
        key.verify(signature, digest.finalize())
    return len(work), time.perf_counter() - started


def kesah_verify(r: Run, data: Dataset) -> tuple[int, float, float, float]:
    """``kesah verify all`` over a copy of the dataset; (events checked, log seconds, projection seconds, wall)."""
    target = r.work / "verify"
    data.copy(target)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESAH_")}
    env["KESAH_DATA_DIR"] = str(target)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "kesah", "verify", "all", "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"kesah verify exited {done.returncode}: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    reports = json.loads(done.stdout)["reports"]
    logs = [rep for rep in reports if "checked" in rep]
    projection = sum(rep.get("seconds", 0.0) for rep in reports if "checked" not in rep)
    return sum(rep["checked"] for rep in logs), sum(rep["seconds"] for rep in logs), projection, wall


def run(r: Run) -> None:
    data = dataset(r.cache, r.sizes.verify_events)
    before = raw_crypto(data)
    checked, seconds, projection, wall = kesah_verify(r, data)
    if checked != data.events * 2:  # every owner's store, and the same events again in the journal
        raise RuntimeError(f"kesah verify checked {checked} events, expected {data.events * 2}")
    # The raw rate before and after, the better counts (the machine is shared).
    sampled, raw_seconds = min(before, raw_crypto(data), key=lambda m: m[1] / m[0])
    r.add(Figure(CASE, f"kesah verify all, {checked:,} events", checked / seconds, "events/s", sampled / raw_seconds,
                 "raw SHA-256 + Ed25519 verify", target=TARGET,
                 note=f"logs {seconds:.1f} s, projection {projection:.1f} s, wall {wall:.1f} s"))
    r.note(CASE, f"log checks {seconds:.1f} s, projection compared in {projection:.1f} s, "
                 f"{wall:.1f} s wall (interpreter start included)")
