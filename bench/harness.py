"""What every case shares: figures beside their baselines, the run's resources, the table.

A figure is never printed alone: each comes with a raw baseline measured in
the same run on the same machine, and the ratio between them, because the
absolute numbers on a shared machine move from run to run. The ratio is
always "share of the raw limit": figure/baseline for rates, baseline/figure
for latencies and memory (where less is better), so 100% means "as good as
the raw part" and the targets read the same way for every case.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Figure:
    case: str
    name: str
    value: float
    unit: str
    baseline: float
    baseline_name: str
    lower_is_better: bool = False
    target: float | None = None  # the least ratio the project aims for
    note: str = ""

    @property
    def ratio(self) -> float:
        if not self.value or not self.baseline:
            return 0.0
        return self.baseline / self.value if self.lower_is_better else self.value / self.baseline

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio >= self.target

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": round(self.ratio, 4), "met": self.met}


@dataclass
class Goal:
    """A target that is not a ratio (1M events in under 30 s, p99 under 2 s ...)."""

    case: str
    text: str
    met: bool
    detail: str


@dataclass
class Sizes:
    """How big each case runs: the full benchmark or the smoke run in CI."""

    seconds: float  # each closed-loop measurement
    warmup: float
    concurrency: int
    steady_rate: float  # end to end, complaints/s
    ramp: tuple[float, ...]  # end to end, rates tried for the highest sustained one
    ramp_seconds: float
    relay_events: int
    rebuild_events: tuple[int, ...]  # SQLite
    pg_rebuild_events: tuple[int, ...]  # PostgreSQL (loading a journal there takes long: smaller by default)
    es_events: int  # the eventsourcing library's projection (slow: one transaction per event)
    view_complaints: int
    verify_events: int
    memory_events: tuple[int, ...]  # a small log and a big one
    memory_complaints: int  # sent through the whole pipeline while memory is watched
    memory_wait: float  # longest wait for the services' first verification rounds before memory is read

    @classmethod
    def full(cls) -> "Sizes":
        return cls(seconds=10, warmup=2, concurrency=16, steady_rate=50, ramp=(25, 50, 75, 100, 150, 200, 300, 500, 700),
                   ramp_seconds=15, relay_events=20_000, rebuild_events=(100_000, 1_000_000),
                   pg_rebuild_events=(100_000,), es_events=2_000,
                   view_complaints=100_000, verify_events=100_000, memory_events=(100_000, 1_000_000),
                   memory_complaints=5, memory_wait=240)

    @classmethod
    def smoke(cls) -> "Sizes":
        return cls(seconds=1, warmup=0.2, concurrency=4, steady_rate=10, ramp=(10,), ramp_seconds=2,
                   relay_events=300, rebuild_events=(300,), pg_rebuild_events=(300,), es_events=100,
                   view_complaints=100, verify_events=300, memory_events=(100, 300), memory_complaints=0,
                   memory_wait=120)


@dataclass
class Run:
    smoke: bool
    sizes: Sizes
    work: Path  # this run's temporary data
    cache: Path  # generated data kept between runs (var/bench)
    figures: list[Figure] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)  # baselines one case measured that another reuses
    _cleanup: list[Callable[[], None]] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(format_row(figure), flush=True)
        return figure

    def goal(self, case: str, text: str, met: bool, detail: str) -> None:
        self.goals.append(Goal(case, text, met, detail))

    def note(self, case: str, text: str) -> None:
        self.notes.setdefault(case, []).append(text)
        print(f"    {text}", flush=True)

    def on_close(self, action: Callable[[], None]) -> None:
        self._cleanup.append(action)

    def close(self) -> None:
        while self._cleanup:
            try:
                self._cleanup.pop()()
            except Exception as exc:  # cleaning up must go on; say what stayed behind
                print(f"bench: clean-up failed: {exc}", file=sys.stderr)

    # --- the machine's shared services, carved up for this run ----------------

    def vhost(self) -> str:
        import urllib.error

        from tests.support import services
        from tests.support.system import wait_until

        def create() -> str | None:
            try:
                return services.create_vhost()
            except (urllib.error.URLError, ConnectionError):
                return None  # the shared broker is restarting (another run's fault test): wait for it

        name = wait_until(create, 120, "RabbitMQ's management API", interval=1.0)
        self.on_close(lambda: services.delete_vhost(name))
        return name

    def pg_database(self) -> str:
        """A PostgreSQL database of this run's own; its URL."""
        import uuid

        from tests.support import services

        name = f"kesah_bench_{uuid.uuid4().hex[:10]}"
        services.create_pg_database(name)
        self.on_close(lambda: services.drop_pg_database(name))
        return services.pg_url(name)

    def system(self, name: str, database_urls: dict[str, str] | None = None, extra_env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        """A whole System (not started) in its own vhost and data directory; stopped at the end."""
        from tests.support.system import System

        env = {"KESAH_LOG_LEVEL": "WARNING", **(extra_env or {})}
        system = System(self.work / name, self.vhost(), database_urls, env)
        self.on_close(system.close)
        return system

    @contextlib.contextmanager
    def trivial(self) -> Iterator[str]:
        """The trivial Starlette endpoint, served as the faces are; its base URL."""
        from tests.support.system import free_port, wait_until

        port = free_port()
        child = subprocess.Popen([sys.executable, "-m", "bench.trivial", str(port)], cwd=ROOT,
                                 start_new_session=True)
        try:
            wait_until(lambda: _listening(port), 30, "the trivial endpoint to listen")
            yield f"http://127.0.0.1:{port}"
        finally:
            child.terminate()
            child.wait(10)

    def load(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Run the load generator in a process of its own; its result."""
        with tempfile.TemporaryDirectory(dir=self.work) as tmp:
            spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
            spec_path.write_text(json.dumps(spec))
            subprocess.run([sys.executable, "-m", "bench.load", str(spec_path), str(out_path)], cwd=ROOT,
                           check=True, timeout=spec.get("seconds", 10) * 4 + 120)
            return json.loads(out_path.read_text())

    def closed_load(self, url: str, paths: list[str], method: str = "GET", body: Any = None,
                    headers: dict[str, str] | None = None) -> dict[str, Any]:
        return self.load({"mode": "closed", "url": url, "paths": paths, "method": method, "body": body,
                          "headers": headers or {}, "concurrency": self.sizes.concurrency,
                          "seconds": self.sizes.seconds, "warmup": self.sizes.warmup})


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def check_ok(result: dict[str, Any], what: str) -> None:
    """A load run whose answers were errors measured nothing: say so instead of printing a rate."""
    if result["requests"] == 0 or result["ok"] < result["requests"]:
        raise RuntimeError(f"{what}: {result['requests'] - result['ok']} of {result['requests']} requests failed "
                           f"(statuses {result['statuses']})")


def format_rate(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:,.1f} ms" if value < 10 else f"{value:,.1f} s"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    return f"{value:,.0f} {unit}"


def format_row(f: Figure) -> str:
    target = "" if f.target is None else f"  (target >= {f.target:.0%}: {'met' if f.met else 'NOT met'})"
    return (f"  {f.case:<10} {f.name:<44} {format_rate(f.value, f.unit):>16}   "
            f"{f.baseline_name:<30} {format_rate(f.baseline, f.unit):>16}   {f.ratio:>6.0%}{target}")


def table(run: Run) -> str:
    lines = [f"  {'case':<10} {'measure':<44} {'figure':>16}   {'raw baseline':<30} {'baseline':>16}   {'ratio':>6}"]
    lines += [format_row(f) for f in run.figures]
    for g in run.goals:
        lines.append(f"  {g.case:<10} goal: {g.text}: {'met' if g.met else 'NOT met'} ({g.detail})")
    for case, error in run.errors.items():
        lines.append(f"  {case:<10} FAILED: {error}")
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    """A results file as the Markdown table docs/performance.md shows."""
    def cell(value: float, unit: str) -> str:
        return format_rate(value, unit).replace(" ", "\u00a0")

    lines = ["| case | measure | figure | raw baseline | baseline | ratio | target |", "|---|---|--:|---|--:|--:|---|"]
    for f in results["figures"]:
        target = "" if f["target"] is None else f"≥ {f['target']:.0%}: {'met' if f['met'] else '**not met**'}"
        lines.append(f"| {f['case']} | {f['name']} | {cell(f['value'], f['unit'])} | {f['baseline_name']} | "
                     f"{cell(f['baseline'], f['unit'])} | {f['ratio']:.0%} | {target} |")
    for g in results["goals"]:
        lines.append(f"| {g['case']} | goal: {g['text']} | | | | | {'met' if g['met'] else '**not met**'}: {g['detail']} |")
    for case, error in results["errors"].items():
        lines.append(f"| {case} | FAILED: {error} | | | | | |")
    return "\n".join(lines)


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError):
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    import sqlite3

    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory": memory, "python": platform.python_version(),
        "platform": platform.platform(), "sqlite": sqlite3.sqlite_version,
        "rabbitmq": _version(["rabbitmqctl", "version"]), "postgresql": _pg_version(),
    }


def _version(cmd: list[str]) -> str:
    if shutil.which(cmd[0]) is None:
        return ""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _pg_version() -> str:
    try:
        import psycopg2

        from tests.support import services

        conn = psycopg2.connect(f"{services.PG_SERVER}/postgres")
        try:
            with conn.cursor() as cursor:
                cursor.execute("SHOW server_version")
                return str(cursor.fetchone()[0])
        finally:
            conn.close()
    except Exception:
        return ""


def write_results(run: Run, out: Path, started: float, load_before: tuple[float, float, float]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    data = {
        "mode": "smoke" if run.smoke else "full",
        "finished_at": stamp,
        "seconds": round(time.monotonic() - started, 1),
        "machine": machine(),
        "load_average": {"before": load_before, "after": load_average()},
        "figures": [f.to_json() for f in run.figures],
        "goals": [asdict(g) for g in run.goals],
        "notes": run.notes,
        "errors": run.errors,
    }
    path = out / f"{stamp}-{data['mode']}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    (out / f"latest-{data['mode']}.json").write_text(json.dumps(data, indent=2) + "\n")
    return path
