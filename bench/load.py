"""The load generator: HTTP/1.1 keep-alive requests from a process of its own.

Run by the cases as ``python -m bench.load SPEC.json OUT.json``, so it never
shares a core's interpreter with what it measures. It speaks just enough
HTTP/1.1 over asyncio streams (Content-Length bodies, keep-alive) to cost
little per request; an HTTP library would make the client the limit.

Two modes:

- ``closed``: ``concurrency`` connections each send the next request as soon
  as the previous one is answered, for ``seconds`` (after ``warmup``):
  the most the server answers, with latencies;
- ``open``: requests start at a steady ``rate`` whatever the answers do, for
  ``seconds``: what a server does under a given offered load. Each answer's
  wall-clock time and JSON body fields named in ``keep`` are written out,
  so a case can follow what happened to each request afterwards.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Answer:
    status: int
    body: bytes


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, raw: bytes) -> Answer:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        closing = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                closing = True
            elif name == b"transfer-encoding":
                raise RuntimeError("chunked responses are not expected from these endpoints")
        body = await self.reader.readexactly(length) if length else b""
        if closing:
            self.close()
        return Answer(status, body)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def raw_request(method: str, host: str, path: str, body: bytes | None, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def requests_of(spec: dict[str, Any]) -> list[bytes]:
    """Every request the run may send (it picks one at random each time)."""
    url = urlsplit(spec["url"])
    body = json.dumps(spec["body"]).encode() if spec.get("body") is not None else None
    headers = {"content-type": "application/json"} if body is not None else {}
    headers.update(spec.get("headers", {}))
    return [raw_request(spec.get("method", "GET"), url.netloc, path, body, headers) for path in spec["paths"]]


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(latencies: list[float], statuses: dict[int, int], seconds: float) -> dict[str, Any]:
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    return {
        "requests": len(latencies),
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": seconds,
        "rate": ok / seconds if seconds else 0.0,
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
    }


async def closed(spec: dict[str, Any]) -> dict[str, Any]:
    url = urlsplit(spec["url"])
    raws = requests_of(spec)
    rng = random.Random(1)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    started = time.monotonic()
    measure_from = started + spec.get("warmup", 0.0)
    until = measure_from + spec["seconds"]

    async def worker() -> None:
        conn = Connection(url.hostname or "127.0.0.1", url.port or 80)
        try:
            while True:
                sent = time.monotonic()
                if sent >= until:
                    return
                answer = await conn.send(rng.choice(raws))
                done = time.monotonic()
                if sent >= measure_from:
                    latencies.append(done - sent)
                    statuses[answer.status] = statuses.get(answer.status, 0) + 1
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(spec["concurrency"])))
    return summary(latencies, statuses, time.monotonic() - measure_from)


async def open_loop(spec: dict[str, Any]) -> dict[str, Any]:
    url = urlsplit(spec["url"])
    raws = requests_of(spec)
    rate, seconds = spec["rate"], spec["seconds"]
    keep = spec.get("keep", [])
    idle: list[Connection] = []
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    kept: list[dict[str, Any]] = []
    late = 0

    async def one(raw: bytes) -> None:
        conn = idle.pop() if idle else Connection(url.hostname or "127.0.0.1", url.port or 80)
        sent = time.monotonic()
        try:
            answer = await conn.send(raw)
        except (OSError, asyncio.IncompleteReadError):
            conn.close()
            statuses[0] = statuses.get(0, 0) + 1
            return
        latencies.append(time.monotonic() - sent)
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
        if keep and 200 <= answer.status < 300:
            data = json.loads(answer.body)
            kept.append({"answered_at": time.time(), **{k: data.get(k) for k in keep}})
        idle.append(conn)

    started = time.monotonic()
    tasks = []
    total = int(rate * seconds)
    for i in range(total):
        due = started + i / rate
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -0.05:
            late += 1  # the generator itself fell behind: the offered rate was not met
        tasks.append(asyncio.ensure_future(one(raws[i % len(raws)])))
    sending = time.monotonic() - started
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    result = summary(latencies, statuses, sending)
    result.update(offered=rate, sent=total, late=late, answers=kept)
    return result


def main(argv: list[str]) -> int:
    spec_path, out_path = argv
    with open(spec_path) as fh:
        spec = json.load(fh)
    run = closed if spec.get("mode", "closed") == "closed" else open_loop
    result = asyncio.run(run(spec))
    with open(out_path, "w") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
