"""The system run from the service image, each part a container confined as in production.

``ImageSystem`` is a tests/support ``System`` whose parts are podman containers of the image
``scripts/build-image`` builds (``make image``) instead of local processes: the same env, ports,
stores and HTTP client, so ``rehearsal.load.tally`` and any drill written against ``System`` run
unchanged against the image (build an ``ImageSystem`` with the same arguments; a broker or
PostgreSQL elsewhere comes through ``extra_env`` / ``database_urls`` as for ``System``).

Every container runs with a read-only root, as uid 10001:10001, without any capability and with
no-new-privileges, on the host's network (one machine: the ports ``System`` picked). The only
writable place is a host directory mounted at /tmp, the image's KESAH_DATA_DIR=/tmp/kesah, shared
by the parts as their SQLite files and keys are in ``kesah up`` (in Kubernetes each pod has its own
emptyDir there and the stores are on PostgreSQL). ``confinement`` checks all of that on a running
container from the inside.

The drill ``image-kill-container``: the whole system from the image under load, one worker container
killed with SIGKILL (``podman kill -s KILL``), started again, then the tally.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import IO, Mapping

from kesah import devserver

from . import source
from .load import Load, summary, tally
from .report import CannotRun, Outcome

IMAGE = "localhost/kesah-etam:rehearsal"
# Where the image keeps its data (the Dockerfile's KESAH_DATA_DIR) and what is mounted writable.
MOUNT = "/tmp"
DATA_DIR = "/tmp/kesah"
UID = 10001
# The production pod's securityContext (deploy/k8s/base/workers.yaml), in podman's words.
CONFINEMENT = (
    "--read-only", "--read-only-tmpfs=false",  # podman would otherwise add writable /tmp, /var/tmp, /run
    f"--user={UID}:{UID}", "--cap-drop=ALL", "--security-opt=no-new-privileges",
    "--network=host",
    "--health-cmd=none",  # the image's HEALTHCHECK needs systemd timers; the drill probes itself
)


def limits() -> list[str]:
    """podman's default limits (a million open files, four million processes) exceed what this
    machine lets root raise them to (no CAP_SYS_RESOURCE): runc could not start the container."""
    import resource

    _, files = resource.getrlimit(resource.RLIMIT_NOFILE)
    return [f"--ulimit=nofile={files}:{files}", "--ulimit=nproc=4096:4096"]


def podman(*args: str, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, check=check)


def image_problem(image: str = IMAGE) -> str | None:
    """Why the image cannot run here (one sentence), or None."""
    if os.geteuid() != 0:
        return "the image drill runs rootful podman and needs root"
    if shutil.which("podman") is None:
        return "podman is not installed: run `make image` (scripts/build-image installs it and builds the image)"
    if podman("image", "exists", image, check=False).returncode != 0:
        return f"the image {image} is not built: run `make image` (scripts/build-image) first"
    built_from = podman("image", "inspect", "--format", f'{{{{index .Labels "{source.LABEL}"}}}}', image).stdout.strip()
    if built_from != source.digest():
        return f"the image {image} was built from other sources than this clone's: run `make image` again"
    return None


def image_size(image: str = IMAGE) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())


class Containers(devserver.Supervisor):
    """The Supervisor over podman containers: each part an attached ``podman run --rm`` child.

    Its output goes to ``<log_dir>/<name>.log`` as the processes' does; stopping or killing goes
    through podman so the signal reaches the container's process, not the client.
    """

    def __init__(self, env: Mapping[str, str], mount: Path, health_ports: Mapping[str, int],
                 log_dir: Path, image: str = IMAGE) -> None:
        # Only the project's settings cross into a container, with the image's own data dir.
        own = {k: v for k, v in env.items() if k.startswith("KESAH_")}
        own.update(KESAH_DATA_DIR=DATA_DIR, KESAH_HTTP_HOST="127.0.0.1")
        super().__init__(own, log_dir=log_dir, health_ports=health_ports)
        self.mount = mount
        self.image = image
        self.prefix = f"kesah-{uuid.uuid4().hex[:8]}"

    def container(self, name: str) -> str:
        return f"{self.prefix}-{name.replace('#', '-')}"

    def spawn(self, name: str, env: Mapping[str, str], out: IO[bytes] | None) -> subprocess.Popen[bytes]:
        # A container killed a moment ago may still be on its way out (--rm): its name is taken until then.
        podman("rm", "--force", "--ignore", self.container(name), check=False)
        argv = ["podman", "run", "--rm", "--name", self.container(name), *CONFINEMENT, *limits(),
                f"--volume={self.mount}:{MOUNT}:rw"]
        for key, value in sorted(env.items()):
            argv += ["--env", f"{key}={value}"]
        argv += [self.image, "serve", devserver.part(name)]
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self, name: str | None = None, timeout: float = 15.0, sig: int = signal.SIGTERM) -> None:
        names = [name] if name else list(self.children)
        running = [self.container(n) for n in names if self.running(n)]
        if running and sig == signal.SIGKILL:
            podman("kill", "--signal", "KILL", *running, check=False)
        elif running:
            # podman stop: SIGTERM, SIGKILL after the timeout, as the kubelet does; all at once.
            podman("stop", "--time", str(int(timeout)), *running, check=False, timeout=timeout + 60)
        for n in names:
            child = self.children.pop(n, None)
            if child is not None:
                try:
                    child.wait(timeout + 30)
                except subprocess.TimeoutExpired:
                    podman("rm", "--force", "--ignore", self.container(n), check=False)
                    child.kill()
                    child.wait()
            handle = self._logs.pop(n, None)
            if handle is not None:
                handle.close()

    def remove_all(self) -> None:
        """Whatever of ours is left (a container whose client died): removed by name."""
        for n in self.started:
            podman("rm", "--force", "--ignore", self.container(n), check=False)


def make_system(root: Path, vhost: str, image: str = IMAGE, **kwargs):  # type: ignore[no-untyped-def]
    """A ``System`` (tests/support) whose parts run as containers of ``image``; data under ``root``."""
    from tests.support.system import System

    class ImageSystem(System):
        def __init__(self) -> None:
            super().__init__(root / "kesah", vhost, **kwargs)
            # The host prepared the stores and keys (as ``kesah up`` does); the containers' user owns them.
            for path in [root, *root.rglob("*")]:
                os.chown(path, UID, UID, follow_symlinks=False)
            self.supervisor = Containers(self.env, root, self.health_ports, root / "logs", image)  # type: ignore[assignment]

        def start(self, *names: str) -> "ImageSystem":
            # A container starts slower than a process (podman, then the imports on a shared machine):
            # the web face gets longer than System's 30 s to answer.
            from tests.support.system import wait_until

            names = names or devserver.PROCESSES
            workers = [n for n in names if n != "web"]
            if workers:  # System.start() with no names starts them all
                super().start(*workers)
            if "web" in names:
                self.supervisor.start("web")
                wait_until(self._healthy, 180, "the web face's container to answer /healthz", interval=0.5)
            return self

        def container(self, name: str) -> str:
            return self.supervisor.container(name)  # type: ignore[attr-defined]

        def close(self) -> None:
            try:
                super().close()
            finally:
                self.supervisor.remove_all()  # type: ignore[attr-defined]

    return ImageSystem()


def confinement(container: str) -> list[str]:
    """What is wrong with a running container's confinement, checked from podman and from inside; [] when right."""
    problems: list[str] = []
    [info] = json.loads(podman("inspect", container).stdout)
    host = info["HostConfig"]
    if info["Config"].get("User") != f"{UID}:{UID}":
        problems.append(f"configured user is {info['Config'].get('User')!r}")
    if not host.get("ReadonlyRootfs"):
        problems.append("the root file system is not read-only")
    if info.get("EffectiveCaps"):
        problems.append(f"capabilities {info['EffectiveCaps']}")
    if not any("no-new-privileges" in o for o in host.get("SecurityOpt") or []):
        problems.append("no-new-privileges is not set")
    # PID 1 of the container is the service itself: its real and effective ids, capability sets, flag.
    status = dict(
        line.split(":", 1) for line in podman("exec", container, "cat", "/proc/1/status").stdout.splitlines() if ":" in line
    )
    if status["Uid"].split() != [str(UID)] * 4 or status["Gid"].split() != [str(UID)] * 4:
        problems.append(f"the service runs as uid {status['Uid'].split()} gid {status['Gid'].split()}")
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        if int(status[cap], 16) != 0:
            problems.append(f"{cap} is {status[cap].strip()}")
    if status.get("NoNewPrivs", "").strip() != "1":
        problems.append("NoNewPrivs is not 1")
    # A write to the root must fail; a write to the data dir must work.
    for path in ("/opt/kesah/probe", "/etc/probe", "/probe"):
        write = podman("exec", container, "python", "-c", f"open({path!r}, 'w')", check=False)
        if write.returncode == 0 or "Read-only file system" not in write.stderr:
            problems.append(f"writing {path} did not fail as read-only ({write.stderr.strip()[-80:] or 'it worked'})")
    probe = f"{DATA_DIR}/.probe-{uuid.uuid4().hex[:6]}"
    write = podman("exec", container, "python", "-c", f"import os; open({probe!r}, 'w').close(); os.remove({probe!r})",
                   check=False)
    if write.returncode != 0:
        problems.append(f"the data dir {DATA_DIR} is not writable ({write.stderr.strip()[-80:]})")
    return problems


def wait_ready(system, names: list[str], timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    """Until every named worker's /readyz answers 200 (and the web face /healthz)."""
    from tests.support.system import wait_until

    def ready() -> bool:
        for name in names:
            path = "/healthz" if name == "web" else "/readyz"
            response = system.probe(name, path)
            if response is None or response.status_code != 200:
                return False
        return True

    wait_until(ready, timeout, f"{', '.join(names)} ready in their containers", interval=0.5)


def kill_container(small: bool) -> list[Outcome]:
    """Drill image-kill-container: kill -9 worker containers under load; each round is a row."""
    problem = image_problem()
    if problem:
        raise CannotRun(problem)
    from tests.support import services

    # The workers whose crash must lose nothing; web too in the full run (there a crash is a stall).
    victims = ["routing"] if small else ["routing", "publicview", "relay", "intake", "responses", "web"]
    before, after = (15, 15) if small else (40, 40)
    down = 3.0  # seconds the killed part stays down, so work piles up behind it
    root = Path(tempfile.mkdtemp(prefix="kesah-image-"))
    os.chmod(root, 0o755)
    vhost = services.create_vhost()
    system = None
    outcomes: list[Outcome] = []
    try:
        system = make_system(root, vhost)
        started = time.monotonic()
        system.start()
        workers = ["intake", "routing", "responses", "publicview", "relay"]
        wait_ready(system, workers + ["web"])
        print(f"   the system is up from {IMAGE} in {time.monotonic() - started:.0f} s", flush=True)
        wrong = {name: confinement(system.container(name)) for name in workers + ["web"]}
        wrong = {name: problems for name, problems in wrong.items() if problems}
        if wrong:
            raise CannotRun("the containers are not confined as production's pods are: "
                            + "; ".join(f"{name}: {', '.join(p)}" for name, p in wrong.items()))
        checked = f"6 containers checked: uid/gid {UID}, no capabilities, no-new-privileges, root read-only"
        print(f"   {checked}", flush=True)
        for victim in victims:
            load = Load(base_url=str(system.http.base_url)).start()
            try:
                load.wait_for(before, timeout=120)
                system.kill(victim)
                killed = time.monotonic()
                time.sleep(down)
                system.start(victim)
                wait_ready(system, [victim])
                back = time.monotonic() - killed
                load.wait_for(after, timeout=120)
            finally:
                load.stop()
            stats = summary(load)
            print(f"   {victim}: killed, back in {back:.1f} s; {stats}", flush=True)
            note = f"back in {back:.0f} s ({down:.0f} s down)"
            if not outcomes:
                note += f"; {checked}; image {image_size() // 1_000_000} MB"
            outcomes.append(tally(f"image: kill -9 the {victim} container", system, load, note=note))
    finally:
        if system is not None:
            system.close()
        services.delete_vhost(vhost)
        shutil.rmtree(root, ignore_errors=True)
    return outcomes
