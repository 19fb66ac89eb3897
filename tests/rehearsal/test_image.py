"""The service image, run as production runs it (rehearsal/image.py).

The image is slow to build (``make image``, as root), so CI does not build it and these tests skip
with that reason when it is missing; on a machine where it is built they run the real containers.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from rehearsal import image
from tests.support import services

problem = image.image_problem()
pytestmark = pytest.mark.skipif(problem is not None, reason=f"{problem}")


@pytest.fixture
def image_system(tmp_path: Path):  # type: ignore[no-untyped-def]
    tmp_path.chmod(0o755)
    vhost = services.create_vhost()
    system = image.make_system(tmp_path, vhost)
    try:
        yield system
    finally:
        system.close()
        services.delete_vhost(vhost)


def test_every_part_runs_confined_from_the_image_and_serves(image_system) -> None:  # type: ignore[no-untyped-def]
    image_system.start()
    image.wait_ready(image_system, ["intake", "routing", "responses", "publicview", "relay", "web"])
    for name in ("intake", "routing", "responses", "publicview", "relay", "web"):
        assert image.confinement(image_system.container(name)) == [], name
    code = image_system.submit()["tracking_code"]
    image_system.routed(code, timeout=60)
    # The host reads the stores the containers wrote: what the drill's tally relies on.
    assert [e.payload["tracking_code"] for e in image_system.events("intake", ["ComplaintSubmitted"])] == [code]


def test_the_confinement_check_sees_an_unconfined_container() -> None:
    # The same image run the default way (root's capabilities, writable root): the check must object.
    name = f"kesah-unconfined-{uuid.uuid4().hex[:8]}"
    subprocess.run(["podman", "run", "--detach", "--rm", "--name", name, "--health-cmd=none", "--user=0", *image.limits(),
                    "--entrypoint=python", image.IMAGE, "-c", "import time; time.sleep(120)"],
                   check=True, capture_output=True, timeout=60)
    try:
        problems = image.confinement(name)
    finally:
        subprocess.run(["podman", "rm", "--force", "--time=0", name], capture_output=True, timeout=60)
    text = "; ".join(problems)
    assert "configured user is '0'" in text
    assert "the root file system is not read-only" in text
    assert "no-new-privileges is not set" in text
    assert "CapEff is" in text and "the service runs as uid ['0', '0', '0', '0']" in text
    assert "writing /opt/kesah/probe did not fail as read-only" in text


def test_the_drill_kills_a_worker_container_and_loses_nothing() -> None:
    [outcome] = image.kill_container(small=True)
    assert outcome.accepted >= 30
    assert (outcome.lost, outcome.duplicated, outcome.visible) == (0, 0, outcome.accepted), outcome
