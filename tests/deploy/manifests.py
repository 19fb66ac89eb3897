"""The Kubernetes manifests as the tests see them: rendered by kustomize, parsed, walked."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "k8s"
OVERLAYS = ("staging", "production")
# Not applied by kustomize (see deploy/k8s/secrets/README.md and the runbook): checked all the same.
TEMPLATES = sorted((DEPLOY / "secrets").glob("*.yaml")) + sorted((DEPLOY / "runbook").glob("*.yaml"))
CUSTOM_SCHEMAS = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): DEPLOY / "schemas" / "rabbitmqcluster.schema.yaml",
    ("postgresql.cnpg.io/v1", "Cluster"): DEPLOY / "schemas" / "cnpg-cluster.schema.yaml",
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): DEPLOY / "schemas" / "cnpg-scheduledbackup.schema.yaml",
}
WORKLOADS = ("Deployment", "Job", "CronJob")

Obj = dict[str, Any]


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        raise AssertionError("kubectl is needed to render the manifests (apt-get install kubectl)")
    return found


@functools.cache
def render(overlay: str) -> tuple[Obj, ...]:
    out = subprocess.run([kubectl(), "kustomize", str(DEPLOY / "overlays" / overlay)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return tuple(o for o in yaml.safe_load_all(out.stdout) if o)


@functools.cache
def templates() -> tuple[Obj, ...]:
    return tuple(o for path in TEMPLATES for o in yaml.safe_load_all(path.read_text()) if o)


def named(objects: tuple[Obj, ...], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_template(obj: Obj) -> Obj:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return obj["spec"]["template"]


def workloads(objects: tuple[Obj, ...]) -> Iterator[tuple[str, Obj]]:
    """(name, pod template) of every workload; a generated name counts as its prefix."""
    for o in objects:
        if o["kind"] in WORKLOADS:
            meta = o["metadata"]
            yield meta.get("name") or meta["generateName"], pod_template(o)


def containers(pod: Obj) -> list[Obj]:
    return list(pod["spec"].get("initContainers", [])) + list(pod["spec"]["containers"])
