"""Every process answers the probes Kubernetes and Prometheus use."""

from __future__ import annotations

from kesah import devserver
from tests.support.system import System, wait_until


def test_every_worker_and_the_relay_serve_health_readiness_and_metrics(system: System) -> None:
    for name in devserver.WATCHED:
        wait_until(lambda: system.probe(name, "/healthz"), 30, f"{name} to answer /healthz")
        assert system.probe(name, "/healthz").json() == {"status": "ok"}
        ready = wait_until(lambda: (r := system.probe(name)) is not None and r.status_code == 200 and r,
                           30, f"{name} to be ready")
        assert ready.json()["status"] == "ready"
        assert "broker" in ready.json()["checks"]
        text = system.probe(name, "/metrics").text
        assert "# TYPE" in text
    assert "kesah_relay_published_total" in system.probe("relay", "/metrics").text
    assert system.probe("intake", "/nothing").status_code == 404

    web = system.http.get("/metrics")
    assert web.status_code == 200 and web.headers["content-type"].startswith("text/plain")
