"""deploy/k8s, validated offline as far as that goes (no cluster, no Docker engine here).

Every object the overlays render is validated against the Kubernetes schemas
(kubernetes-validate, strict) or, for the operators' custom resources,
against deploy/k8s/schemas; yamllint passes; every pod meets the
"restricted" Pod Security Standard; and the manifests agree with the code:
Service selectors, probe paths and ports, environment variables, Ingress
paths, commands. checkov runs in tests/deploy/test_checkov.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from starlette.testclient import TestClient
from yamllint import config as yamllint_config
from yamllint import linter

from kesah import cli, config, gateway, health
from tests.deploy.manifests import (
    CUSTOM_SCHEMAS, DEPLOY, OVERLAYS, ROOT, Obj, containers, named, render, templates, workloads,
)

# The oldest Kubernetes the manifests promise to work on (autoscaling/v2, policy/v1, batch/v1 CronJob,
# NetworkPolicy endPort, Pod Security admission are all older).
KUBERNETES = "1.30.0"


def validate(obj: Obj) -> None:
    key = (obj["apiVersion"], obj["kind"])
    if key in CUSTOM_SCHEMAS:
        schema = yaml.safe_load(CUSTOM_SCHEMAS[key].read_text())
        jsonschema.validate(obj, schema, cls=jsonschema.Draft202012Validator)
    else:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_is_valid(overlay: str) -> None:
    objects = render(overlay)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "Ingress", "ConfigMap", "RabbitmqCluster", "Cluster", "ScheduledBackup", "Job",
            "CronJob", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy", "Namespace"} <= kinds
    for obj in objects:
        validate(obj)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == f"kesah-{overlay}", obj["metadata"]["name"]


def test_templates_are_valid_and_hold_no_secret() -> None:
    for obj in templates():
        validate(obj)
        for key, value in (obj.get("stringData") or {}).items():
            # Placeholders only: a value, a password or a key is never in the repository.
            placeholder = "CHANGE-ME" in value or value.startswith("https://alerts.example.invalid")
            assert placeholder or key == "username", value
        assert "data" not in obj or obj["kind"] == "ConfigMap"


def test_a_misspelt_field_fails_validation() -> None:
    cluster = named(render("production"), "Cluster")["kesah-postgres"]
    broken = {**cluster, "spec": {**cluster["spec"], "instance": 3}}
    with pytest.raises(jsonschema.ValidationError, match="instance"):
        validate(broken)
    deployment = named(render("production"), "Deployment")["web-intake"]
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


def test_yamllint() -> None:
    conf = yamllint_config.YamlLintConfig(file=str(DEPLOY / ".yamllint.yaml"))
    problems = []
    for path in sorted(DEPLOY.rglob("*.yaml")):
        problems += [f"{path.relative_to(ROOT)}:{p.line}: {p.desc} ({p.rule})"
                     for p in linter.run(path.read_text(), conf, str(path))]
    assert problems == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_restricted_and_bounded(overlay: str) -> None:
    namespace = next(iter(named(render(overlay), "Namespace").values()))
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    pods = list(workloads(render(overlay))) + list(workloads(templates()))
    assert len(pods) >= 12
    for name, pod in pods:
        spec = pod["spec"]
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for c in containers(pod):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] >= 10000, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
            for bound in ("requests", "limits"):
                assert set(c["resources"][bound]) >= {"cpu", "memory"}, (name, bound)


def probed_deployments(overlay: str) -> dict[str, Obj]:
    return {n: d for n, d in named(render(overlay), "Deployment").items()}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_selects_a_deployment_and_a_named_port(overlay: str) -> None:
    deployments = named(render(overlay), "Deployment")
    for name, service in named(render(overlay), "Service").items():
        selector = service["spec"]["selector"]
        matches = [d for d in deployments.values()
                   if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matches) == 1, f"Service {name} selects {len(matches)} Deployments"
        ports = {p["name"] for c in matches[0]["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, (name, port)
    for name, d in deployments.items():
        assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()


def served_paths(deployment: Obj, tmp_path: Path) -> dict[str, int]:
    """What the container's process answers on its probes' paths, asked of the real app code."""
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    paths = {"/no-such-probe", *(c[kind]["httpGet"]["path"] for kind in PROBES)}
    args = c["args"]
    if args[:2] == ["serve", "web"]:
        face = args[args.index("--face") + 1]
        settings = config.load({"KESAH_DATA_DIR": str(tmp_path / face)})
        from kesah import signing

        signing.init_keys(settings.keys_dir, config.OWNERS)
        with TestClient(gateway.build_face(face, settings)) as client:
            return {path: client.get(path).status_code for path in paths}
    app = health.wsgi_app(health.Probes())
    status: dict[str, int] = {}
    for path in paths:
        def start(line: str, headers: Any, path: str = path) -> None:
            status[path] = int(line.split()[0])
        route, _, query = path.partition("?")
        b"".join(app({"PATH_INFO": route, "QUERY_STRING": query, "REQUEST_METHOD": "GET"}, start))
    return status


PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def test_each_probe_path_and_port_exists_in_the_app(tmp_path: Path) -> None:
    cm = named(render("production"), "ConfigMap")["kesah-config"]["data"]
    ports = {"http": int(cm["KESAH_HTTP_PORT"]), "health": int(cm["KESAH_HEALTH_PORT"])}
    for name, d in named(render("production"), "Deployment").items():
        (c,) = d["spec"]["template"]["spec"]["containers"]
        declared = {p["name"]: p["containerPort"] for p in c["ports"]}
        served = served_paths(d, tmp_path)
        assert served["/no-such-probe"] == 404  # the app does not answer anything: the check means something
        for kind in PROBES:
            probe = c[kind]["httpGet"]
            assert declared[probe["port"]] == ports[probe["port"]], (name, kind)
            assert served[probe["path"]] in (200, 503), (name, kind, probe["path"])
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        # An HTTP face stays in its Service while it reaches its database, whatever integrity or lag say.
        web = c["args"][:2] == ["serve", "web"]
        assert c["readinessProbe"]["httpGet"]["path"] == ("/readyz?check=store" if web else "/readyz"), name


def env_names(objects: tuple[Obj, ...]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    configmaps = named(objects, "ConfigMap")
    for name, pod in workloads(objects):
        for c in containers(pod):
            names = {e["name"] for e in c.get("env", [])}
            for source in c.get("envFrom", []):
                names |= set(configmaps[source["configMapRef"]["name"]]["data"])
            found[f"{name}/{c['name']}"] = names
    return found


def test_every_env_var_a_pod_sets_is_one_config_reads() -> None:
    for overlay in OVERLAYS:
        objects = render(overlay)
        for where, names in env_names(objects).items():
            unknown = names - set(config.VARIABLES)
            assert not unknown, f"{overlay} {where} sets variables kesah/config.py does not read: {unknown}"
    secrets = {(o["metadata"]["name"], key) for o in templates() if o["kind"] == "Secret" for key in o["stringData"]}
    for _, pod in list(workloads(render("production"))) + list(workloads(templates())):
        for c in containers(pod):
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert (ref["name"], ref["key"]) in secrets, f"no template for secret {ref['name']}/{ref['key']}"


def ingress_face(paths: list[Obj], path: str) -> str:
    """Kubernetes' Ingress matching: an Exact match first, then the longest matching Prefix (by path element)."""
    exact = [p for p in paths if p["pathType"] == "Exact" and p["path"] == path]
    if exact:
        return exact[0]["backend"]["service"]["name"]
    prefixes = [p for p in paths if p["pathType"] == "Prefix"
                and (p["path"] == "/" or path == p["path"].rstrip("/") or path.startswith(p["path"].rstrip("/") + "/"))]
    return max(prefixes, key=lambda p: len(p["path"]))["backend"]["service"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_routes_every_path_as_the_gateway_does(overlay: str) -> None:
    (ingress,) = named(render(overlay), "Ingress").values()
    (rule,) = ingress["spec"]["rules"]
    paths = rule["http"]["paths"]
    assert sorted((p["path"], p["pathType"], p["backend"]["service"]["name"]) for p in paths) == sorted(
        (path, kind, f"web-{face}") for path, kind, face in gateway.ROUTES)
    services = named(render(overlay), "Service")
    samples = {"/", "/aduan/ACDE-FHJK", "/api/complaints/ACDE-FHJK", "/agencyx", "/api", "/api/complaintsx"}
    for path, _, _ in gateway.ROUTES:
        samples |= {path, path.rstrip("/") + "/x", path + "x"}
    for path in sorted(samples):
        assert ingress_face(paths, path) == f"web-{gateway.face_for(path)}", path
    for p in paths:
        assert p["backend"]["service"]["name"] in services


def test_relays_run_once_per_store_and_only_web_faces_autoscale() -> None:
    deployments = named(render("production"), "Deployment")
    relays = {n: d for n, d in deployments.items() if n.startswith("relay-")}
    assert set(relays) == {f"relay-{s}" for s in config.OWNERS}
    for name, d in relays.items():
        assert d["spec"]["replicas"] == 1 and d["spec"]["strategy"] == {"type": "Recreate"}, name
        assert d["spec"]["template"]["spec"]["containers"][0]["args"][-2:] == ["--store", name.removeprefix("relay-")]
    autoscalers = named(render("production"), "HorizontalPodAutoscaler").values()
    targets = {h["spec"]["scaleTargetRef"]["name"] for h in autoscalers}
    assert targets == {f"web-{face}" for face in gateway.FACES}
    budgets = {b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
               for b in named(render("production"), "PodDisruptionBudget").values()}
    assert budgets == {n for n, d in deployments.items() if d["spec"]["replicas"] > 1}


def test_networkpolicies_deny_by_default() -> None:
    policies = named(render("production"), "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for name, policy in policies.items():
        for rule in policy["spec"].get("ingress", []) + policy["spec"].get("egress", []):
            assert rule.get("ports"), f"{name} allows every port"


def test_every_container_runs_a_kesah_command() -> None:
    for name, pod in list(workloads(render("production"))) + list(workloads(templates())):
        for c in containers(pod):
            assert c["image"].startswith("registry.bontangkota.go.id/kesah/kesah-etam:"), name
            cli.parser().parse_args(c["args"])  # SystemExit (a failure) if the image's command rejects them


def test_the_dockerfile_builds_one_non_root_image_from_the_lock() -> None:
    text = (ROOT / "Dockerfile").read_text()
    instructions = [line for line in re.sub(r"\\\n", " ", text).splitlines() if line and not line.startswith("#")]
    # The base is a build arg (scripts/build-image passes a local one); its default is production's pin.
    args = dict(i[len("ARG "):].split("=", 1) for i in instructions if i.startswith("ARG ") and "=" in i)
    froms = [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], i.split()[1]) for i in instructions if i.startswith("FROM ")]
    assert len(froms) >= 2, "multi-stage"
    for image in froms:
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", image), image
    assert "--constraint requirements.lock" in text
    assert [i for i in instructions if i.startswith("USER ")][-1] == "USER 10001:10001"
    assert json.loads(next(i for i in instructions if i.startswith("ENTRYPOINT "))[len("ENTRYPOINT "):]) == ["kesah"]
    check = json.loads(next(i for i in instructions if i.startswith("HEALTHCHECK")).split("CMD", 1)[1])
    compile(check[2], "HEALTHCHECK", "exec")
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*" or "*" in ignored


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_postgres_acknowledges_a_commit_only_once_a_replica_has_it(overlay: str) -> None:
    # What the failover drill (rehearsal/postgres.py) needs for zero loss; docs/runbook.md.
    spec = named(render(overlay), "Cluster")["kesah-postgres"]["spec"]
    synchronous = spec["postgresql"]["synchronous"]
    assert synchronous["number"] >= 1 and synchronous.get("dataDurability", "required") == "required"
    assert spec["postgresql"]["parameters"].get("synchronous_commit", "on") in ("on", "remote_apply")
    # A primary lost, a synchronous replica still left beside the promoted one.
    assert spec["instances"] >= synchronous["number"] + 2
    broken = json.loads(json.dumps(named(render(overlay), "Cluster")["kesah-postgres"]))
    broken["spec"]["postgresql"]["synchronous"]["dataDurability"] = "best-effort"
    with pytest.raises(jsonschema.ValidationError, match="best-effort"):
        validate(broken)
