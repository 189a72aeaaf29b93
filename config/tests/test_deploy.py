"""The container files (Dockerfile, compose.yaml, deploy/k8s/) hold what docs/OPERATIONS.md
"Deploy" says, without a Docker daemon or a cluster: the compose file's services, health checks
and start order; every manifest valid against the Kubernetes schema; and the image's build steps
that need neither the network nor root run here, on a copy of what the build context holds."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pathspec
import pytest
import yaml
from django.conf import settings

from config import queues

BASE_DIR = Path(__file__).resolve().parents[2]
K8S = BASE_DIR / "deploy" / "k8s"
KUBERNETES_VERSION = "1.37.0"
# One worker per group of Celery queues, in compose.yaml and in deploy/k8s (wallet-<name>).
WORKERS = ("worker-payouts", "worker", "worker-exports")


def _dockerfile() -> list[tuple[str, str]]:
    """``(instruction, arguments)`` pairs, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n\s*", " ", (BASE_DIR / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1]) for line in lines]


def _context_path(path: Path) -> str:
    """``path`` as .dockerignore patterns see it: relative to the context, folders ending in /."""
    return os.path.relpath(path, BASE_DIR) + ("/" if path.is_dir() else "")


def _compose() -> dict:
    return yaml.safe_load((BASE_DIR / "compose.yaml").read_text())


def _manifests() -> list[tuple[str, dict]]:
    return [
        (path.name, document)
        for path in sorted(K8S.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def _deployments() -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in _manifests() if doc["kind"] == "Deployment"}


def test_the_image_is_slim_python_3_11_run_by_a_numeric_non_root_user_with_gunicorn_threads():
    steps = _dockerfile()
    instructions = dict(steps)

    assert instructions["FROM"] == "python:3.11-slim"
    assert instructions["USER"].split(":")[0] not in ("0", "root")
    assert instructions["USER"].split(":")[0].isdigit()
    assert "/healthz" in instructions["HEALTHCHECK"]
    command = yaml.safe_load(instructions["CMD"])
    assert command[:3] == ["gunicorn", "--config", "config/gunicorn.conf.py"]
    assert "gthread" in (BASE_DIR / "config" / "gunicorn.conf.py").read_text()
    assert [name for name, _ in steps].index("USER") > max(i for i, (name, _) in enumerate(steps) if name == "RUN")


def test_the_images_build_steps_collect_static_files_and_compile_translations(tmp_path):
    """The build context as .dockerignore leaves it, then the RUN that collects and compiles,
    with the Dockerfile's ENV (its /app made the temporary directory)."""
    ignored = pathspec.GitIgnoreSpec.from_lines((BASE_DIR / ".dockerignore").read_text().splitlines())
    context = tmp_path / "app"
    shutil.copytree(
        BASE_DIR,
        context,
        ignore=lambda folder, names: [
            name
            for name in names
            if ignored.match_file(
                os.path.relpath(Path(folder, name), BASE_DIR) + ("/" if Path(folder, name).is_dir() else "")
            )
        ],
    )
    assert not (context / ".venv").exists()
    assert not list(context.rglob("*.mo"))
    steps = _dockerfile()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for name, arguments in steps:
        if name == "ENV":
            env.update(
                (key, value.replace("/app", str(context)))
                for key, value in (pair.split("=", 1) for pair in shlex.split(arguments))
            )
    build = next(arguments for name, arguments in steps if name == "RUN" and "collectstatic" in arguments)

    built = subprocess.run(["sh", "-c", build], cwd=context, env=env, capture_output=True, text=True)  # noqa: S603, S607

    assert built.returncode == 0, built.stderr

    static = context / "var" / "static"
    assert (static / "admin" / "css" / "base.css").exists()
    assert (static / "admin" / "css" / "base.css.gz").exists()
    assert (context / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo").stat().st_size > 0


def test_compose_runs_every_service_with_rabbitmq_as_the_broker():
    services = _compose()["services"]

    assert set(services) == {"postgres", "redis", "rabbitmq", "migrate", "web", *WORKERS, "beat"}
    assert services["web"]["environment"]["CELERY_BROKER_URL"].startswith("amqp://")
    assert all(services[name]["env_file"] == ".env" for name in ("migrate", "web", *WORKERS, "beat"))
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    assert "scale" not in services["beat"] and "deploy" not in services["beat"]


def test_compose_health_checks_and_start_order():
    services = _compose()["services"]

    for name in ("postgres", "redis", "rabbitmq", *WORKERS):
        assert services[name]["healthcheck"]["test"], name
    assert "healthcheck" not in services["web"]  # the image's HEALTHCHECK on /healthz
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("web", *WORKERS, "beat"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "redis": {"condition": "service_healthy"},
            "rabbitmq": {"condition": "service_healthy"},
        }, name


def test_the_env_example_documents_every_variable_the_settings_the_readme_and_compose_name():
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (BASE_DIR / ".env.example").read_text(), re.MULTILINE))
    settings = (BASE_DIR / "config" / "settings.py").read_text()
    read = set(re.findall(r'\benv(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', settings))
    read |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", (BASE_DIR / "compose.yaml").read_text()))
    read |= set(
        re.findall(r'environ\.get\("([A-Z][A-Z0-9_]+)"', (BASE_DIR / "config" / "gunicorn.conf.py").read_text())
    )

    assert len(read) > 40
    assert read - documented == set()


@pytest.mark.parametrize(("name", "document"), _manifests(), ids=lambda value: value if isinstance(value, str) else "")
def test_every_kubernetes_manifest_is_valid_against_its_schema(name, document):
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_exactly_one_beat_and_a_migration_job():
    deployments = _deployments()
    kinds = [doc["kind"] for _, doc in _manifests()]

    assert set(deployments) == {"wallet-web", *(f"wallet-{name}" for name in WORKERS), "wallet-beat"}
    assert deployments["wallet-beat"]["spec"]["replicas"] == 1
    assert deployments["wallet-beat"]["spec"]["strategy"] == {"type": "Recreate"}
    assert kinds.count("Job") == 1 and kinds.count("Service") == 1
    assert {"ConfigMap", "Secret"} <= set(kinds)


def _queues_read(command: list[str]) -> set[str]:
    return set(command[command.index("--queues") + 1].split(","))


def test_every_queue_but_the_sandboxs_has_workers_payouts_their_own_in_compose_and_kubernetes():
    services = _compose()["services"]
    containers = {
        name: _deployments()[f"wallet-{name}"]["spec"]["template"]["spec"]["containers"][0] for name in WORKERS
    }
    wanted = set(queues.QUEUES) - {queues.SANDBOX}

    for read in (
        {name: _queues_read(services[name]["command"]) for name in WORKERS},
        {name: _queues_read(container["command"]) for name, container in containers.items()},
    ):
        assert set().union(*read.values()) == wanted
        assert read["worker-payouts"] == {queues.PAYOUTS}
        assert sum(len(queue_names) for queue_names in read.values()) == len(wanted)


def test_rabbitmq_lets_a_worker_hold_a_task_as_long_as_the_settings_say():
    erl_args = _compose()["services"]["rabbitmq"]["environment"]["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"].split()
    consumer_timeout_ms = int(erl_args[erl_args.index("consumer_timeout") + 1])

    assert consumer_timeout_ms >= settings.CELERY_BROKER_HOLD_SECONDS * 1000


def test_web_is_ready_on_readyz_and_alive_on_healthz():
    (container,) = _deployments()["wallet-web"]["spec"]["template"]["spec"]["containers"]

    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_every_pod_runs_non_root_with_resources_and_its_config_from_the_configmap_and_secret():
    pods = [doc["spec"]["template"]["spec"] for _, doc in _manifests() if doc["kind"] in ("Deployment", "Job")]

    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert set(container["resources"]) == {"requests", "limits"}
            assert {source.get("configMapRef", source.get("secretRef"))["name"] for source in container["envFrom"]} == {
                "wallet-config",
                "wallet-secrets",
            }
