"""Every process answers the probes Kubernetes and Prometheus use."""

from __future__ import annotations

import signal
import subprocess
from typing import Callable

import pytest

from kesah import devserver
from tests.support.system import System, free_port, wait_until


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
    # Integrity status and event counts of every log, and publicview's lag.
    for owner in ("intake", "routing", "responses"):
        text = wait_until(lambda: (t := system.probe(owner, "/metrics").text) and
                          f'kesah_integrity_ok{{store="{owner}"}} 1' in t and t, 30, f"{owner}'s verdict")
        assert f'kesah_log_head_position{{store="{owner}"}}' in text
    text = wait_until(lambda: (t := system.probe("publicview", "/metrics").text) and "kesah_lag_events" in t and t,
                      30, "publicview's lag")
    assert 'kesah_integrity_ok{store="publicview journal (intake)"} 1' in text
    assert "kesah_projection_ok 1" in text and "kesah_projection_complaints" in text
    assert system.probe("intake", "/nothing").status_code == 404

    web = system.http.get("/metrics")
    assert web.status_code == 200 and web.headers["content-type"].startswith("text/plain")
    assert 'kesah_page_cache_reads_total{result="hit"}' in web.text  # publicview's face


@pytest.mark.parametrize("part", ["intake", "routing", "responses", "publicview"])
def test_a_service_told_to_stop_while_it_starts_stops(make_system: Callable[..., System], part: str) -> None:
    # Kubernetes may end a pod that is still starting (a rollout, a scale-down); nameko stopped
    # mid-start never returns, and the pod would wait out its grace period to be killed.
    system = make_system()
    env = {**system.env, "KESAH_HEALTH_PORT": str(free_port())}
    child = subprocess.Popen(devserver.command(part), env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for line in child.stdout:  # type: ignore[union-attr]
            if b"starting services" in line:
                break
        child.send_signal(signal.SIGTERM)
        output, _ = child.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        output, _ = child.communicate()
        pytest.fail(f"{part} did not stop within 30 s of SIGTERM during its start:\n{output.decode()[-2000:]}")
    assert child.returncode == 0, output.decode()[-2000:]
    assert b"Traceback" not in output, output.decode()[-2000:]
