"""2. End to end: from a submission's 201 to the complaint visible with its agency.

The whole system runs (web, relay, the four workers). The load generator
submits at a steady rate and notes each 201's wall-clock time. A complaint
is visible with its agency once publicview has journaled its
``ComplaintRouted``: the projection row that ``/api/complaints/{code}``
reads commits in that same transaction, and the journal row's
``received_at`` says when (no polling that would load the system it
measures; the last complaint of each step is also fetched over HTTP).

Baselines: the rate beside the trivial endpoint's POST rate (the HTTP
ceiling of any submission path here); the latency beside a message carried
over the same two broker hops with raw pika (publish with confirm, consume,
publish with confirm, consume) at the same rate: what the pipeline's
transport alone costs.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pika
import sqlalchemy as sa

from bench.cases.intake import COMPLAINT, trivial_post
from bench.harness import Figure, Run
from bench.load import percentile

CASE = "2 end2end"
P99_GOAL = 2.0
RATE_GOAL = 500.0


def epoch(iso: str) -> float:
    return dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc).timestamp()


def routed_at(engine: sa.Engine, complaint_ids: list[str]) -> dict[str, float]:
    """When publicview journaled each complaint's routing (wall clock)."""
    from services.publicview.store import journal

    seen: dict[str, float] = {}
    with engine.connect() as conn:
        for i in range(0, len(complaint_ids), 500):
            rows = conn.execute(
                sa.select(journal.c.correlation_id, journal.c.received_at).where(
                    journal.c.type == "ComplaintRouted", journal.c.correlation_id.in_(complaint_ids[i:i + 500]))
            )
            seen.update((cid, epoch(at)) for cid, at in rows)
    return seen


def step(r: Run, system: Any, engine: sa.Engine, rate: float, seconds: float, drain: float) -> dict[str, Any]:
    """Submit at ``rate`` for ``seconds``; wait up to ``drain`` s after for every complaint to be visible."""
    result = r.load({"mode": "open", "url": str(system.http.base_url), "paths": ["/api/complaints"],
                     "method": "POST", "body": COMPLAINT, "rate": rate, "seconds": seconds,
                     "keep": ["complaint_id", "tracking_code"]})
    answers = sorted(result.pop("answers"), key=lambda a: a["answered_at"])
    ids = [a["complaint_id"] for a in answers]
    deadline = time.monotonic() + drain
    seen: dict[str, float] = {}
    while True:
        seen.update(routed_at(engine, [i for i in ids if i not in seen]))
        if len(seen) == len(ids) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if answers and answers[-1]["complaint_id"] in seen:
        system.wait_public(answers[-1]["tracking_code"], lambda c: c.get("agency") is not None, 10)
    unseen = drain + seconds  # a complaint not visible in time counts as at least this late
    lags = [max(0.0, seen[a["complaint_id"]] - a["answered_at"]) if a["complaint_id"] in seen else unseen
            for a in answers]
    quarter = max(1, len(lags) // 4)
    first, last = lags[:quarter], lags[-quarter:]
    achieved = result["ok"] / seconds
    growing = percentile(last, 0.5) > max(2 * percentile(first, 0.5), percentile(first, 0.5) + 0.5)
    return {
        "rate": rate, "achieved": achieved, "submitted": len(answers), "visible": len(seen),
        "p50": percentile(lags, 0.5), "p99": percentile(lags, 0.99), "late": result["late"],
        "sustained": bool(answers) and achieved >= 0.95 * rate and len(seen) == len(ids) and not growing
        and result["late"] <= 0.01 * result["sent"] and result["ok"] == result["requests"],
        "http_p99": result["p99"],
    }


def raw_hops(rate: float, seconds: float, amqp_uri: str) -> dict[str, float]:
    """A message over two broker hops with raw pika, at ``rate``: latencies (s)."""
    queues = ("bench.hop1", "bench.hop2")
    setup = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = setup.channel()
    for q in queues:
        channel.queue_declare(q, durable=True, arguments={"x-queue-type": "quorum"})
    setup.close()
    total = max(1, int(rate * seconds))
    lags: list[float] = []
    done = threading.Event()

    def hop(source: str, target: str | None) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        ch = connection.channel()
        ch.confirm_delivery()
        ch.basic_qos(prefetch_count=10)
        for method, props, body in ch.consume(source, inactivity_timeout=0.5):
            if done.is_set() and method is None:
                break
            if method is None:
                continue
            if target is not None:
                ch.basic_publish("", target, body, pika.BasicProperties(delivery_mode=2))
            else:
                lags.append(time.time() - float(body))
                if len(lags) >= total:
                    done.set()
            ch.basic_ack(method.delivery_tag)
        connection.close()

    threads = [threading.Thread(target=hop, args=("bench.hop1", "bench.hop2"), daemon=True),
               threading.Thread(target=hop, args=("bench.hop2", None), daemon=True)]
    for t in threads:
        t.start()
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    ch = connection.channel()
    ch.confirm_delivery()
    started = time.monotonic()
    for i in range(total):
        wait = started + i / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        ch.basic_publish("", "bench.hop1", str(time.time()).encode(), pika.BasicProperties(delivery_mode=2))
    connection.close()
    done.wait(30 + seconds)
    done.set()
    for t in threads:
        t.join(10)
    return {"p50": percentile(lags, 0.5), "p99": percentile(lags, 0.99), "count": len(lags)}


def run(r: Run) -> None:
    sizes = r.sizes
    raw_post = trivial_post(r)
    system = r.system("endtoend")
    system.start()
    # The first complaint also waits for every worker to be up and consuming.
    system.routed(system.submit()["tracking_code"], timeout=120)
    engine = sa.create_engine(system.settings.database_url("publicview"))
    r.on_close(engine.dispose)
    seconds = sizes.ramp_seconds
    if not r.smoke:  # warm up (connections, caches, the first batches) before anything counts
        step(r, system, engine, sizes.steady_rate, max(2.0, seconds / 3), drain=30)
    steady = step(r, system, engine, sizes.steady_rate, seconds, drain=30)
    hops = raw_hops(sizes.steady_rate, seconds, system.env["KESAH_AMQP_URI"])
    at = f"at {sizes.steady_rate:g}/s"
    r.add(Figure(CASE, f"p50 visible with agency {at}", steady["p50"], "s", hops["p50"], "raw pika, 2 hops, same rate",
                 lower_is_better=True))
    r.add(Figure(CASE, f"p99 visible with agency {at}", steady["p99"], "s", hops["p99"], "raw pika, 2 hops, same rate",
                 lower_is_better=True))
    best = None
    tried = []
    for rate in sizes.ramp:
        outcome = step(r, system, engine, rate, seconds, drain=max(10.0, seconds))
        tried.append(outcome)
        r.note(CASE, f"{rate:g}/s offered: {outcome['achieved']:.0f}/s accepted, p50 {outcome['p50']:.2f}s "
                     f"p99 {outcome['p99']:.2f}s, {outcome['visible']}/{outcome['submitted']} visible: "
                     f"{'sustained' if outcome['sustained'] else 'NOT sustained'}")
        if not outcome["sustained"]:
            break
        best = outcome
    r.shared["endtoend"] = tried
    sustained = best["achieved"] if best else 0.0
    r.add(Figure(CASE, "highest sustained rate", sustained, "complaints/s", raw_post["rate"],
                 "trivial POST, same server"))
    p99 = best["p99"] if best else float("inf")
    r.goal(CASE, f">= {RATE_GOAL:g} complaints/s sustained with p99 visible < {P99_GOAL:g} s",
           sustained >= RATE_GOAL and p99 < P99_GOAL,
           f"{sustained:.0f}/s sustained, p99 {p99:.2f} s there")
