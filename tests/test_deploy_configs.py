"""The deployment files in docker/ start processes the app lets start: explicit secrets, named
hosts, a Redis password every client carries, and a metrics scraper holding the token /metrics
wants. No Docker or cluster here: the files are read as compose and Kubernetes would read them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

DOCKER = ROOT / "docker"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def k8s_documents() -> list[dict[str, Any]]:
    return [
        document
        for path in sorted((DOCKER / "k8s").glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def app_containers(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {}
    for document in documents:
        spec = document.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []):
            if container["image"].startswith("callwaiting-tts"):
                found[f"{document['metadata']['name']}/{container['name']}"] = container
    return found


def test_compose_has_no_default_secrets_and_redis_wants_its_password():
    compose = load(DOCKER / "compose.yaml")
    common = compose["x-common-env"]
    for name in ("SECRET_KEY", "API_KEY_PEPPER"):
        assert common[name].startswith(f"${{{name}:?"), name  # required, no default
    assert common["REDIS_URL"].startswith("redis://:${REDIS_PASSWORD:?")
    assert "*" not in common["ALLOWED_HOSTS"]
    assert "SECURE_COOKIES" not in common
    redis = compose["services"]["redis"]
    assert redis["command"][-2:] == [
        "--requirepass",
        "${REDIS_PASSWORD:?set REDIS_PASSWORD in docker/.env}",
    ]
    for name, service in compose["services"].items():
        url = (service.get("environment") or {}).get("REDIS_URL")
        assert url is None or "${REDIS_PASSWORD" in url, name


def test_compose_prometheus_sends_the_token_web_wants():
    compose = load(DOCKER / "compose.yaml")
    web_token = compose["services"]["web"]["environment"]["METRICS_TOKEN"]
    assert web_token.startswith("${METRICS_TOKEN:?")
    assert compose["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    assert compose["services"]["prometheus"]["secrets"] == ["metrics_token"]
    job = next(
        job
        for job in load(DOCKER / "prometheus.yml")["scrape_configs"]
        if job["job_name"] == "callwaiting-tts-web"
    )
    assert job["authorization"] == {
        "type": "Bearer",
        "credentials_file": "/run/secrets/metrics_token",
    }


def test_nginx_never_forwards_metrics():
    conf = (DOCKER / "nginx.conf").read_text()
    block = conf[conf.index("location ^~ /metrics") :].split("}", 1)[0]
    assert "return 404" in block
    assert "proxy_pass" not in block


def test_every_kubernetes_app_process_names_its_hosts():
    containers = app_containers(k8s_documents())
    assert len(containers) >= 5  # web, celery worker and beat, migrate, the GPU worker
    for name, container in containers.items():
        env = {item["name"]: item for item in container.get("env", [])}
        assert "ALLOWED_HOSTS" in env, name
        assert "*" not in env["ALLOWED_HOSTS"]["value"], name


def test_kubernetes_is_behind_tls_and_scrapes_with_the_web_pods_token():
    documents = k8s_documents()
    config = next(d for d in documents if d["kind"] == "ConfigMap")["data"]
    assert config["BEHIND_TLS_PROXY"] == "true"
    assert "SECURE_COOKIES" not in config
    web = app_containers(documents)["cwtts-web/web"]
    token = next(item for item in web["env"] if item["name"] == "METRICS_TOKEN")
    reference = token["valueFrom"]["secretKeyRef"]
    monitor = next(d for d in documents if d["kind"] == "ServiceMonitor")
    credentials = monitor["spec"]["endpoints"][0]["authorization"]["credentials"]
    assert credentials == {"name": reference["name"], "key": reference["key"]}
    secrets = {d["metadata"]["name"] for d in documents if d["kind"] == "Secret"}
    assert reference["name"] in secrets


def scrape_job(name: str) -> dict[str, Any]:
    jobs = load(DOCKER / "prometheus.yml")["scrape_configs"]
    return next(job for job in jobs if job["job_name"] == name)


def test_compose_prometheus_loads_the_alerts_and_scrapes_workers_with_the_token():
    compose = load(DOCKER / "compose.yaml")
    config = load(DOCKER / "prometheus.yml")
    mounts = dict(
        volume.rsplit(":", 1)[0].split(":", 1)
        for volume in compose["services"]["prometheus"]["volumes"]
        if volume.startswith("./")
    )
    assert config["rule_files"] == [mounts["./prometheus/alerts.yml"]]
    worker_job = scrape_job("callwaiting-tts-worker")
    assert worker_job["authorization"] == scrape_job("callwaiting-tts-web")["authorization"]
    worker = compose["services"]["tts-worker-gpu"]
    environment = worker["environment"]
    assert (
        environment["METRICS_TOKEN"] == compose["services"]["web"]["environment"]["METRICS_TOKEN"]
    )
    (discovery,) = worker_job["dns_sd_configs"]
    assert "tts-worker-gpu" in discovery["names"]
    assert discovery["port"] == int(environment["METRICS_PORT"])
    assert environment["METRICS_PORT"] in worker["expose"]
    # Reachable from the prometheus container, not the worker's loopback only.
    assert environment["METRICS_HOST"] == "0.0.0.0"  # noqa: S104


def test_kubernetes_scrapes_the_worker_pods_metrics_port_with_the_web_token():
    documents = k8s_documents()
    monitor = next(d for d in documents if d["kind"] == "PodMonitor")
    deployment = next(
        d
        for d in documents
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "cwtts-tts-worker-gpu"
    )
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = monitor["spec"]["selector"]
    assert selector["matchLabels"].items() <= pod_labels.items()
    for expression in selector["matchExpressions"]:
        assert pod_labels[expression["key"]] in expression["values"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    container = app_containers(documents)["cwtts-tts-worker-gpu/tts-worker"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    env = {item["name"]: item for item in container["env"]}
    assert ports[endpoint["port"]] == int(env["METRICS_PORT"]["value"])
    assert env["METRICS_HOST"]["value"] == "0.0.0.0"  # noqa: S104  # not the pod's loopback
    web = app_containers(documents)["cwtts-web/web"]
    web_token = next(item for item in web["env"] if item["name"] == "METRICS_TOKEN")
    assert env["METRICS_TOKEN"]["valueFrom"] == web_token["valueFrom"]
    service_monitor = next(d for d in documents if d["kind"] == "ServiceMonitor")
    web_endpoint = service_monitor["spec"]["endpoints"][0]
    assert endpoint["authorization"] == web_endpoint["authorization"]


def test_kubernetes_scrapes_carry_the_job_names_the_alerts_select():
    documents = k8s_documents()
    endpoints = {
        "ServiceMonitor": next(d for d in documents if d["kind"] == "ServiceMonitor")["spec"][
            "endpoints"
        ][0],
        "PodMonitor": next(d for d in documents if d["kind"] == "PodMonitor")["spec"][
            "podMetricsEndpoints"
        ][0],
    }
    jobs = {}
    for kind, endpoint in endpoints.items():
        (relabel,) = [r for r in endpoint["relabelings"] if r["targetLabel"] == "job"]
        assert relabel["action"] == "replace"
        jobs[kind] = relabel["replacement"]
    assert jobs == {"ServiceMonitor": "callwaiting-tts-web", "PodMonitor": "callwaiting-tts-worker"}
    for job in jobs.values():
        assert scrape_job(job)  # the same name in compose's prometheus.yml


# What a dead process costs in each deployment: `make run`'s supervisor restarts it with backoff
# (devstack/restarts.py); compose and Kubernetes must do the same for every long-lived process.
LONG_LIVED_COMPOSE = {"web", "celery-worker", "celery-beat", "tts-worker-gpu", "nginx"}


def test_compose_restarts_every_long_lived_process_that_exits():
    services = load(DOCKER / "compose.yaml")["services"]
    assert services.keys() >= LONG_LIVED_COMPOSE
    for name in LONG_LIVED_COMPOSE | {"postgres", "redis"}:
        assert services[name].get("restart") in {"unless-stopped", "always"}, name
    assert services["migrate"]["restart"] == "no"  # one-shot: its success gates the rest


def test_kubernetes_restarts_every_app_pod_and_probes_web_and_celery():
    documents = k8s_documents()
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    assert {"cwtts-web", "cwtts-celery-worker", "cwtts-celery-beat", "cwtts-tts-worker-gpu"} <= (
        deployments.keys()
    )
    for name, deployment in deployments.items():
        # A Deployment accepts only Always; saying anything else would be refused, not obeyed.
        pod = deployment["spec"]["template"]["spec"]
        assert pod.get("restartPolicy", "Always") == "Always", name
    containers = app_containers(documents)
    # A hung process is restarted too, not only one that exits.
    for name in ("cwtts-web/web", "cwtts-celery-worker/worker"):
        assert "livenessProbe" in containers[name], name
