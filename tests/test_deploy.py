"""deploy/: the files cannot run here (no Docker, no GPUs), so they are parsed and cross-checked:
every name, port, path and variable that one file expects of another must be there."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from support.cli import thinkswitch
from support.env_files import env_file

from thinkswitch.config.load import LoadedConfig, load_config
from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
K8S = DEPLOY / "k8s"
NAMESPACE = "thinkswitch"


# ---- helpers ----------------------------------------------------------------------------

def substitute(text: str, values: dict[str, str]) -> str:
    """docker-compose's `${VAR}`, `${VAR:?message}` and `${VAR:-default}`."""
    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3)
        return values.get(name) or (default if match.group(2) == ":-" else "") or ""

    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", one, text)


def app_get_routes() -> set[str]:
    """GET paths of the real app (what probes and health checks may call)."""
    from thinkswitch.server.app import create_app

    switch = Switch(SwitchParts(ScriptedEngine(), get_dialect("prompted"), RulesPolicy(),
                                Settings()))
    app = create_app(switch)
    return {route.path for route in app.routes  # type: ignore[attr-defined]
            if "GET" in getattr(route, "methods", set())}


def settings_variables() -> set[str]:
    return {field.alias or f"THINKSWITCH_{name.upper()}"
            for name, field in Settings.model_fields.items()}


def changed(example: dict[str, str]) -> dict[str, str]:
    """An example's secrets with their placeholders replaced, as an operator must."""
    return {name: value.replace("change-me", "5e" * 16) for name, value in example.items()}


def secret_variables(loaded: LoadedConfig) -> set[str]:
    """The environment variables a config file reads its secrets from."""
    file = loaded.file
    names = {file.server.api_keys_env, file.server.signing_key_env, file.engine.api_key_env,
             file.store.url_env}
    return {name for name in names if name}


def check_container_variables(names: set[str], loaded: LoadedConfig) -> None:
    """THINKSWITCH_* names must be settings; the rest must be what the config reads; and
    every variable the config reads must be set."""
    for name in names:
        if name.startswith("THINKSWITCH_"):
            assert name in settings_variables(), f"{name} is not a Settings field"
        else:
            assert name in secret_variables(loaded), f"{name} is set but never read"
    assert secret_variables(loaded) <= names


def mounts(volumes: list[str]) -> dict[str, str]:
    """docker-compose `source:target[:mode]` volumes as {target: source}."""
    return {volume.split(":")[1]: volume.split(":")[0] for volume in volumes}


def option(args: list[str], flag: str) -> str:
    return str(args[args.index(flag) + 1])


# ---- docker-compose ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def dotenv() -> dict[str, str]:
    """deploy/.env.example with every placeholder changed, as its first line asks (the
    placeholders themselves are refused: tests/test_config_file.py)."""
    return changed(env_file(DEPLOY / ".env.example"))


@pytest.fixture(scope="module")
def compose(dotenv: dict[str, str]) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(
        substitute((DEPLOY / "docker-compose.yml").read_text(), dotenv))
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


@pytest.fixture(scope="module")
def compose_config(services: dict[str, Any]) -> LoadedConfig:
    return load_config(DEPLOY / "thinkswitch.toml",
                       {k: str(v) for k, v in services["thinkswitch"]["environment"].items()})


def test_every_yaml_file_parses() -> None:
    files = sorted(DEPLOY.rglob("*.yml")) + sorted(DEPLOY.rglob("*.yaml"))
    assert len(files) >= 8
    for path in files:
        documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
        assert documents, path


def test_the_deploy_config_passes_config_check(services: dict[str, Any]) -> None:
    environment = {k: str(v) for k, v in services["thinkswitch"]["environment"].items()}
    run = thinkswitch("config", "check", str(DEPLOY / "thinkswitch.toml"), env=environment)
    assert run.returncode == 0, run.stderr
    assert "engine openai (1 upstream), model Qwen/Qwen3-8B, dialect qwen3" in run.stdout
    assert "store postgresql://thinkswitch:***@postgres:5432/thinkswitch" in run.stdout


def test_compose_thinkswitch_reads_the_config_it_is_given(services: dict[str, Any],
                                                          compose_config: LoadedConfig) -> None:
    service = services["thinkswitch"]
    config_path = option(service["command"], "--config")
    mounted = DEPLOY / mounts(service["volumes"])[config_path]
    assert mounted.resolve() == DEPLOY / "thinkswitch.toml"
    assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert str(compose_config.server.port) in service["expose"]
    assert compose_config.server.host == "0.0.0.0"
    assert service["deploy"]["replicas"] >= 2
    check_container_variables(set(service["environment"]), compose_config)


def test_compose_health_checks_call_real_routes(services: dict[str, Any],
                                                compose_config: LoadedConfig) -> None:
    routes = app_get_routes()
    command = " ".join(services["thinkswitch"]["healthcheck"]["test"])
    url = urlsplit(re.findall(r"http://[^'\"\s]+", command)[0])
    assert url.path in routes and not url.path.startswith("/v1/")  # no API key needed
    assert url.port == compose_config.server.port


def test_compose_upstreams_and_store_point_at_services(services: dict[str, Any],
                                                       compose_config: LoadedConfig) -> None:
    settings = Settings(**compose_config.settings_values)
    for upstream in settings.base_url.split(","):
        url = urlsplit(upstream)
        assert url.hostname in services
        upstream_service = services[url.hostname]
        assert str(url.port) in upstream_service["expose"]
        assert option(upstream_service["command"], "--port") == str(url.port)
    store = urlsplit(str(settings.trace_db))
    assert store.scheme == "postgresql" and store.hostname in services
    postgres = services[store.hostname]
    assert str(store.port) in postgres["expose"]
    assert store.username == postgres["environment"]["POSTGRES_USER"]
    assert store.path == "/" + postgres["environment"]["POSTGRES_DB"]
    assert store.password == postgres["environment"]["POSTGRES_PASSWORD"]
    for name in services["thinkswitch"]["depends_on"]:
        assert name in services


def test_compose_vllm_serves_qwen3_with_its_reasoning_parser(services: dict[str, Any],
                                                             compose_config: LoadedConfig
                                                             ) -> None:
    command = services["vllm"]["command"]
    assert option(command, "--reasoning-parser") == "qwen3"
    assert option(command, "--served-model-name") == compose_config.settings_values["model"]
    devices = services["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert int(option(command, "--tensor-parallel-size")) == devices["count"] == 2
    assert compose_config.settings_values["dialect"] == "qwen3"


def test_nginx_balances_over_the_thinkswitch_replicas(services: dict[str, Any],
                                                      compose_config: LoadedConfig) -> None:
    nginx = services["nginx"]
    conf = (DEPLOY / mounts(nginx["volumes"])["/etc/nginx/nginx.conf"]).read_text()
    upstreams = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", conf, re.MULTILINE)
    assert upstreams == [("thinkswitch", str(compose_config.server.port))]
    upstream_name = re.findall(r"upstream\s+(\w+)\s*\{", conf)[0]
    assert f"proxy_pass http://{upstream_name};" in conf
    listen = re.findall(r"^\s*listen\s+(\d+);", conf, re.MULTILINE)
    assert [port.split(":")[1] for port in nginx["ports"]] == listen
    assert re.search(r"^\s*proxy_buffering off;", conf, re.MULTILINE)  # SSE chunks at once
    body = re.findall(r"client_max_body_size (\d+)m;", conf)
    assert int(body[0]) * 1024 * 1024 == compose_config.server.max_body_bytes
    assert "thinkswitch" in nginx["depends_on"]


def test_dockerfile_matches_compose(services: dict[str, Any],
                                    compose_config: LoadedConfig) -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f"EXPOSE {compose_config.server.port}" in dockerfile
    assert re.search(r"^RUN pip wheel .* \.$", dockerfile, re.MULTILINE)  # from the checkout
    cmd = re.findall(r'^CMD \[(.*)\]$', dockerfile, re.MULTILINE)[0]
    assert [part.strip().strip('"') for part in cmd.split(",")] == services["thinkswitch"][
        "command"]
    assert "127.0.0.1:8000/health" in dockerfile and "/health" in app_get_routes()
    for name in re.findall(r"^ENV (\w+)=", dockerfile, re.MULTILINE):
        assert name in settings_variables()


# ---- Kubernetes -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    return found


def one(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}"
    return matches[0]


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    return found


def resolve_port(workload: dict[str, Any], port: int | str) -> int:
    """A port number or a port name of one of the workload's containers."""
    for container in containers(workload):
        for declared in container.get("ports", []):
            if port in (declared["containerPort"], declared.get("name")):
                return int(declared["containerPort"])
    raise AssertionError(f"port {port!r} is not declared by {workload['metadata']['name']}")


@pytest.fixture(scope="module")
def secret(manifests: list[dict[str, Any]]) -> dict[str, str]:
    data: dict[str, str] = one(manifests, "Secret", "thinkswitch-secrets")["stringData"]
    return changed(data)


@pytest.fixture(scope="module")
def k8s_config(manifests: list[dict[str, Any]], secret: dict[str, str],
               tmp_path_factory: pytest.TempPathFactory) -> LoadedConfig:
    text = one(manifests, "ConfigMap", "thinkswitch-config")["data"]["thinkswitch.toml"]
    path = tmp_path_factory.mktemp("k8s") / "thinkswitch.toml"
    path.write_text(text)
    return load_config(path, secret)


def test_manifests_are_well_formed_and_listed(manifests: list[dict[str, Any]]) -> None:
    kinds = {m["kind"] for m in manifests}
    assert {"Namespace", "ConfigMap", "Secret", "Deployment", "Service", "Ingress",
            "StatefulSet", "HorizontalPodAutoscaler", "Kustomization"} <= kinds
    for manifest in manifests:
        assert manifest["apiVersion"] and manifest["kind"]
        if manifest["kind"] not in ("Namespace", "Kustomization"):
            assert manifest["metadata"]["namespace"] == NAMESPACE, manifest["metadata"]
    listed = set(one_kustomization(manifests)["resources"])
    assert listed == {path.name for path in K8S.glob("*.yaml")} - {
        "kustomization.yaml", "secret.example.yaml"}  # the real Secret is made out of band


def one_kustomization(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return next(m for m in manifests if m["kind"] == "Kustomization")


def test_services_select_workloads_and_target_their_ports(manifests: list[dict[str, Any]]
                                                          ) -> None:
    workloads = [m for m in manifests if m["kind"] in ("Deployment", "StatefulSet")]
    for service in (m for m in manifests if m["kind"] == "Service"):
        selector = service["spec"]["selector"]
        selected = [w for w in workloads
                    if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert len(selected) == 1, service["metadata"]["name"]
        assert selector.items() <= selected[0]["spec"]["selector"]["matchLabels"].items()
        for port in service["spec"]["ports"]:
            resolve_port(selected[0], port.get("targetPort", port["port"]))
    for workload in (w for w in workloads if w["kind"] == "StatefulSet"):
        governing = one(manifests, "Service", workload["spec"]["serviceName"])
        assert governing["spec"]["clusterIP"] == "None"  # headless: stable pod names


def test_thinkswitch_deployment(manifests: list[dict[str, Any]], k8s_config: LoadedConfig,
                                secret: dict[str, str]) -> None:
    deployment = one(manifests, "Deployment", "thinkswitch")
    assert deployment["spec"]["replicas"] == 3
    container = containers(deployment)[0]
    assert resolve_port(deployment, "http") == k8s_config.server.port
    routes = app_get_routes()
    for probe in ("readinessProbe", "livenessProbe"):
        check = container[probe]["httpGet"]
        assert check["path"] in routes and not check["path"].startswith("/v1/")
        assert resolve_port(deployment, check["port"]) == k8s_config.server.port
    # the config file is mounted where --config reads it
    config_path = Path(option(container["args"], "--config"))
    mount = next(m for m in container["volumeMounts"] if Path(m["mountPath"]) ==
                 config_path.parent)
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == mount["name"])
    configmap = one(manifests, "ConfigMap", volume["configMap"]["name"])
    item = next(i for i in volume["configMap"]["items"] if i["path"] == config_path.name)
    assert item["key"] in configmap["data"]
    # environment: settings, or secrets the config reads, each from a key the Secret has
    env = {entry["name"]: entry for entry in container["env"]}
    check_container_variables(set(env), k8s_config)
    for entry in env.values():
        if "valueFrom" in entry:
            ref = entry["valueFrom"]["secretKeyRef"]
            assert ref["name"] == "thinkswitch-secrets" and ref["key"] in secret
    autoscaler = one(manifests, "HorizontalPodAutoscaler", "thinkswitch")
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == "thinkswitch"
    assert autoscaler["spec"]["minReplicas"] <= deployment["spec"]["replicas"] <= (
        autoscaler["spec"]["maxReplicas"])


def test_ingress_reaches_the_thinkswitch_service(manifests: list[dict[str, Any]]) -> None:
    ingress = one(manifests, "Ingress", "thinkswitch")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            service = one(manifests, "Service", backend["name"])
            names = {p.get("name") for p in service["spec"]["ports"]} | {
                p["port"] for p in service["spec"]["ports"]}
            assert next(iter(backend["port"].values())) in names


def test_k8s_config_upstreams_are_the_vllm_pods(manifests: list[dict[str, Any]],
                                                k8s_config: LoadedConfig) -> None:
    vllm = one(manifests, "StatefulSet", "vllm")
    service = vllm["spec"]["serviceName"]
    settings = Settings(**k8s_config.settings_values)
    hosts = [urlsplit(url) for url in settings.base_url.split(",")]
    assert [url.hostname for url in hosts] == [
        f"vllm-{index}.{service}" for index in range(vllm["spec"]["replicas"])]
    args = containers(vllm)[0]["args"]
    for url in hosts:
        assert url.port == resolve_port(vllm, url.port or 0) == int(option(args, "--port"))
    assert option(args, "--reasoning-parser") == "qwen3"
    assert option(args, "--served-model-name") == settings.model
    gpus = containers(vllm)[0]["resources"]["limits"]["nvidia.com/gpu"]
    assert int(option(args, "--tensor-parallel-size")) == gpus == 2


def test_k8s_store_url_is_the_postgres_service(manifests: list[dict[str, Any]],
                                               k8s_config: LoadedConfig,
                                               secret: dict[str, str]) -> None:
    store = urlsplit(str(k8s_config.settings_values["trace_db"]))
    postgres = one(manifests, "StatefulSet", str(store.hostname))
    service = one(manifests, "Service", str(store.hostname))
    assert store.port in {p["port"] for p in service["spec"]["ports"]}
    assert resolve_port(postgres, store.port or 0) == 5432
    env = {e["name"]: e for e in containers(postgres)[0]["env"]}
    assert store.username == env["POSTGRES_USER"]["value"]
    assert store.path == "/" + env["POSTGRES_DB"]["value"]
    assert store.password == secret[env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"]]


def test_k8s_and_compose_configs_differ_only_in_upstreams(k8s_config: LoadedConfig,
                                                          compose_config: LoadedConfig) -> None:
    def comparable(loaded: LoadedConfig) -> dict[str, Any]:
        values = dict(loaded.settings_values)
        values.pop("base_url")
        values.pop("trace_db")
        return values

    assert comparable(k8s_config) == comparable(compose_config)
    assert k8s_config.server.effort_budgets == compose_config.server.effort_budgets


@pytest.mark.parametrize("deployment", ["compose", "k8s"])
@pytest.mark.parametrize("allowed", [None, ["thinkswitch.example.com"]])
def test_the_host_guard_lets_the_proxy_and_the_health_checks_in(
        deployment: str, allowed: list[str] | None, compose_config: LoadedConfig,
        k8s_config: LoadedConfig) -> None:
    """nginx and the ingress pass the public name on (`proxy_set_header Host $host`), the
    compose health check calls 127.0.0.1 inside the container: all must reach the app as
    deployed (a 0.0.0.0 bind) and once an operator lists the public name in
    `allowed_hosts`. (A kubelet probe's Host is the pod's IP: with `allowed_hosts` set, list
    it or give the probe `httpHeaders: [{name: Host, value: localhost}]`.)"""
    from fastapi.testclient import TestClient

    from thinkswitch.server.app import create_app
    from thinkswitch.server.host_guard import host_allowlist

    server = (compose_config if deployment == "compose" else k8s_config).server
    names = server.allowed_hosts if allowed is None else tuple(allowed)
    switch = Switch(SwitchParts(ScriptedEngine(), get_dialect("prompted"), RulesPolicy(),
                                Settings()))
    client = TestClient(create_app(switch, allowed_hosts=host_allowlist(server.host, names)))
    for host in ("thinkswitch.example.com", f"127.0.0.1:{server.port}", "localhost:8080"):
        assert client.get("/health", headers={"host": host}).status_code == 200, host
    refused = client.get("/health", headers={"host": "evil.example"}).status_code
    assert refused == (200 if allowed is None else 400)
