"""deploy/docker-compose.yaml and scripts/cluster.sh describe one deployment (docs/deploy.md).

No Docker engine runs here, so the compose file is checked as data:

- it parses, and has the services of scripts/cluster.sh (its `SERVICES=(...)` array, one
  `"name|command"` per line) plus `airflow-init`, each running the same program: the command's
  words before the first option (`airflow celery worker`, `sealdeal serve`), or for the official
  images their program (`postgres:*` runs `postgres`, `redis:*` runs `redis-server`);
- every SealDeal service mounts the one shared volume at the same path, which is its
  SEALDEAL_HOME;
- every Airflow service takes its environment from one YAML anchor, with the CeleryExecutor, the
  Redis broker and the PostgreSQL DB, which `sealdeal airflow setup` (airflow-init) keeps;
- no secret is written in it: each comes from a required `${VARIABLE}`, listed without a value
  in deploy/.env.example;
- only the api-server and the dashboards publish a port, on 127.0.0.1, as docs/deploy.md says;
- deploy/Dockerfile installs from the lock (`uv sync --frozen`), with the `cluster` extra.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml

from pipelines.app.airflow_env import DEFAULT_USERS, PASSWORDS_FILE, WRITER_POOL, airflow_environ
from pipelines.core.settings import Settings
from tests.deploy.services import SERVICES, cluster_services

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "docker-compose.yaml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
CLUSTER_SCRIPT = ROOT / "scripts" / "cluster.sh"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"

INIT = "airflow-init"
WORKERS = {"airflow-worker-1", "airflow-worker-2"}
# What the official images run when the compose file gives no command.
IMAGE_PROGRAMS = {"postgres": "postgres", "redis": "redis-server"}
PUBLISHED = {"airflow-api-server": "127.0.0.1:8080:8080", "dashboards": "127.0.0.1:8501:8501"}

# The format scripts/cluster.sh declares its services in.
SAMPLE_SCRIPT = """\
#!/usr/bin/env bash
set -euo pipefail
SERVICES=(
  "postgres|${PG_BIN}/postgres -D ${CLUSTER}/postgres -p ${PG_PORT}"
  "redis|redis-server --port ${REDIS_PORT} --dir ${CLUSTER}/redis"
  "airflow-api-server|airflow api-server --port ${API_PORT}"
  "airflow-scheduler|airflow scheduler"
  "airflow-dag-processor|airflow dag-processor"
  "airflow-triggerer|airflow triggerer"
  # two workers on one machine, told apart by their Celery hostnames
  "airflow-worker-1|airflow celery worker --celery-hostname worker-1@%h"
  "airflow-worker-2|airflow celery worker --celery-hostname worker-2@%h"
  "dashboards|sealdeal serve --port ${DASHBOARDS_PORT}"
)
for entry in "${SERVICES[@]}"; do echo "${entry%%|*}"; done
"""

COMMAND_WORD = re.compile(r"[a-z][a-z0-9-]*")
# An environment variable that holds a secret (paths to one are named *_FILE).
SECRET_NAME = re.compile(r"SECRET|PASSWORD|FERNET|JWT|TOKEN|_KEY$|_AUTH$")
REQUIRED_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*):\?[^}]*\}")
URL_PASSWORD = re.compile(r"://[^/\s:@]*:(\$\{[^}]*\}|[^@\s/]*)@")


# -- reading the two files -------------------------------------------------------------------


def command_words(command: str | list[str]) -> list[str]:
    """The program (without its folder) and the words after it before the first option or
    argument: `airflow celery worker --celery-hostname w` -> [airflow, celery, worker]."""
    words = shlex.split(command) if isinstance(command, str) else list(command)
    program = [words[0].rsplit("/", 1)[-1]]
    return program + list(_until_not_a_word(words[1:]))


def _until_not_a_word(words: list[str]):
    for word in words:
        if not COMMAND_WORD.fullmatch(word):
            return
        yield word


@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def services() -> dict[str, dict]:
    return compose()["services"]


def sealdeal_services() -> dict[str, dict]:
    """The services run from SealDeal's own image (built from deploy/Dockerfile)."""
    return {name: s for name, s in services().items() if "build" in s}


def airflow_services() -> dict[str, dict]:
    return {name: s for name, s in services().items() if name.startswith("airflow-")}


def image_program(service: dict) -> str:
    """The program an official image runs (postgres:15 -> postgres)."""
    return IMAGE_PROGRAMS[service["image"].split(":", 1)[0].rsplit("/", 1)[-1]]


def compose_program(service: dict) -> list[str]:
    """What a compose service runs: SealDeal's command's words; an official image's program
    (the one its command, if it has one, runs with options)."""
    if "build" in service:
        return command_words(service["command"])
    return [image_program(service)]


def mismatches(declared: dict[str, str], services: dict[str, dict]) -> list[str]:
    """How the script's services differ from compose's (compose's one-shot init aside)."""
    found = []
    for name, command in declared.items():
        if name not in services:
            found.append(f"{name}: not in the compose file")
        elif (theirs := command_words(command)) != (ours := compose_program(services[name])):
            found.append(f"{name}: cluster.sh runs {' '.join(theirs)}, compose {' '.join(ours)}")
    extra = set(services) - set(declared) - {INIT}
    found += [f"{name}: only in the compose file" for name in sorted(extra)]
    return found


def environment(name: str) -> dict[str, str]:
    env = services()[name].get("environment") or {}
    assert isinstance(env, dict), f"{name}: environment as a mapping, not a list"
    return {k: str(v) for k, v in env.items()}


def interpolated(value: str) -> str:
    """A compose value as compose would pass it with no variable set but the required ones:
    `${X:-default}` -> default, `${X:?message}` -> <X>, `$$` -> `$`."""
    value = re.sub(r"\$\{([A-Z0-9_]+):-([^}]*)\}", r"\2", value)
    value = re.sub(r"\$\{([A-Z0-9_]+):\?[^}]*\}", r"<\1>", value)
    return value.replace("$$", "$")


# -- the mapping nodes behind YAML's anchors and merge keys -----------------------------------


@cache
def compose_nodes() -> yaml.MappingNode:
    return yaml.compose(COMPOSE.read_text(encoding="utf-8"))


def node_value(mapping: yaml.MappingNode, key: str) -> yaml.Node | None:
    """The node `key` has in `mapping`, its own or merged in with `<<` (as YAML merges)."""
    merged = []
    for k, v in mapping.value:
        if k.value == key:
            return v
        if k.value == "<<":
            merged += v.value if isinstance(v, yaml.SequenceNode) else [v]
    for source in merged:
        if (found := node_value(source, key)) is not None:
            return found
    return None


def environment_sources(env: yaml.MappingNode) -> list[yaml.Node]:
    """The environment mapping itself and every mapping merged into it."""
    sources = [env]
    for k, v in env.value:
        if k.value == "<<":
            for merged in v.value if isinstance(v, yaml.SequenceNode) else [v]:
                sources += environment_sources(merged)
    return sources


def committed_secrets(services: dict[str, dict]) -> list[str]:
    """Environment entries that would commit a secret: a secret's value is one required
    `${VARIABLE:?...}` (no default), and no URL carries a password of its own."""
    found = []
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            secret = SECRET_NAME.search(key) and not key.endswith("_FILE")
            if secret and not REQUIRED_VARIABLE.fullmatch(value):
                found.append(f"{name}: {key} is not a required ${{VARIABLE}}")
            for password in URL_PASSWORD.findall(value):
                if not REQUIRED_VARIABLE.fullmatch(password):
                    found.append(f"{name}: {key} has a password in its URL")
    return found


# -- the parsing itself ------------------------------------------------------------------------


def test_the_cluster_scripts_services_are_read_from_its_array():
    declared = cluster_services(SAMPLE_SCRIPT)
    assert tuple(declared) == SERVICES
    assert declared["airflow-scheduler"] == "airflow scheduler"
    assert command_words(declared["postgres"]) == ["postgres"]  # ${PG_BIN}/postgres
    assert command_words(declared["redis"]) == ["redis-server"]
    assert command_words(declared["airflow-worker-1"]) == ["airflow", "celery", "worker"]
    assert command_words(declared["dashboards"]) == ["sealdeal", "serve"]
    assert command_words(["airflow", "api-server", "--port", "8080"]) == ["airflow", "api-server"]
    with pytest.raises(ValueError, match="no SERVICES"):
        cluster_services("SERVICES=(postgres redis)\n")
    with pytest.raises(ValueError, match="not a"):
        cluster_services("SERVICES=(\n  'redis|redis-server'\n)\n")
    with pytest.raises(ValueError, match="twice"):
        cluster_services('SERVICES=(\n  "redis|redis-server"\n  "redis|redis-server"\n)\n')


def test_a_service_that_differs_from_the_script_is_reported():
    declared = cluster_services(SAMPLE_SCRIPT)
    assert mismatches(declared, services()) == []
    wrong = {**declared, "airflow-triggerer": "airflow scheduler", "flower": "airflow celery"}
    del wrong["dashboards"]
    assert mismatches(wrong, services()) == [
        "airflow-triggerer: cluster.sh runs airflow scheduler, compose airflow triggerer",
        "flower: not in the compose file",
        "dashboards: only in the compose file",
    ]
    other_image = {**services(), "redis": {"image": "postgres:15"}}
    assert mismatches(declared, other_image) == [
        "redis: cluster.sh runs redis-server, compose postgres"
    ]


# -- the compose file against the cluster script ---------------------------------------------


def test_compose_has_the_deployments_services_and_its_init():
    assert set(services()) == {*SERVICES, INIT}
    assert services()["postgres"]["image"].startswith("postgres:15")
    assert services()["redis"]["image"].startswith("redis:7")
    for name in ("postgres", "redis"):  # a command given to an official image runs its program
        if "command" in services()[name]:
            assert command_words(services()[name]["command"]) == [image_program(services()[name])]


def test_every_service_of_the_cluster_script_runs_the_same_program_in_compose():
    if not CLUSTER_SCRIPT.exists():
        pytest.skip("scripts/cluster.sh is not in the repository yet (the sample is checked)")
    declared = cluster_services(CLUSTER_SCRIPT.read_text(encoding="utf-8"))
    assert set(declared) == set(SERVICES)
    assert mismatches(declared, services()) == []


def test_workers_are_told_apart_by_their_celery_hostnames():
    for name in WORKERS:
        command = services()[name]["command"]
        hostname = command[command.index("--celery-hostname") + 1]
        assert hostname.startswith(f"{name.removeprefix('airflow-')}@"), (name, hostname)


# -- SEALDEAL_HOME -------------------------------------------------------------------------------


def test_every_sealdeal_service_mounts_the_shared_home_at_its_sealdeal_home():
    assert set(sealdeal_services()) == {*SERVICES, INIT} - {"postgres", "redis"}
    mounts = {}
    for name, service in sealdeal_services().items():
        volumes = [v.split(":") for v in service["volumes"]]
        shared = [(source, target) for source, target, *_ in volumes if source == "sealdeal-home"]
        assert len(shared) == 1, f"{name} mounts sealdeal-home {len(shared)} times"
        mounts[name] = shared[0][1]
        assert environment(name)["SEALDEAL_HOME"] == mounts[name], name
    assert set(mounts.values()) == {"/sealdeal"}
    assert "sealdeal-home" in compose()["volumes"]
    for name in ("postgres", "redis"):
        assert not any("sealdeal-home" in v for v in services()[name].get("volumes", [])), name


# -- Airflow's configuration -----------------------------------------------------------------


def test_every_airflow_service_takes_its_environment_from_one_anchor():
    root = compose_nodes()
    anchor = node_value(root, "x-airflow-env")
    assert isinstance(anchor, yaml.MappingNode)  # an alias is this very node, a copy is not
    compose_services = node_value(root, "services")
    assert set(airflow_services()) == {*SERVICES, INIT} - {"postgres", "redis", "dashboards"}
    for name in airflow_services():
        env = node_value(node_value(compose_services, name), "environment")
        assert any(source is anchor for source in environment_sources(env)), name
        # Nothing of the anchor is overridden; only the workers add the key.
        added = set(environment(name)) - set(environment(INIT))
        assert added == ({"SEALDEAL_SECRET_KEY"} if name in WORKERS else set()), name
        assert all(environment(name)[k] == v for k, v in environment(INIT).items()), name


def test_the_airflow_environment_is_celery_on_postgres_and_redis():
    env = {k: interpolated(v) for k, v in environment(INIT).items()}
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        "postgresql+psycopg2://airflow:<POSTGRES_PASSWORD>@postgres:5432/airflow"
    )
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:<REDIS_PASSWORD>@redis:6379/0"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == (
        "db+postgresql://airflow:<POSTGRES_PASSWORD>@postgres:5432/airflow"
    )
    postgres = services()["postgres"]["environment"]
    assert (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"]) == ("airflow", "airflow")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        "http://airflow-api-server:8080/execution/"
    )
    assert services()["airflow-api-server"]["command"][-2:] == ["--port", "8080"]
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    for secret in ("CORE__FERNET_KEY", "API_AUTH__JWT_SECRET", "API__SECRET_KEY"):
        assert REQUIRED_VARIABLE.fullmatch(environment(INIT)[f"AIRFLOW__{secret}"]), secret


def test_the_dags_folder_is_the_images_dags():
    dags = environment(INIT)["AIRFLOW__CORE__DAGS_FOLDER"]
    text = DOCKERFILE.read_text(encoding="utf-8")
    workdir = re.findall(r"^WORKDIR\s+(\S+)", text, re.M)[-1]
    assert dags == f"{workdir}/dags"
    assert re.search(r"^COPY dags \./dags$", text, re.M)


def test_sealdeal_airflow_setup_keeps_the_compose_configuration():
    """airflow-init runs `sealdeal airflow setup`, which builds Airflow's environment itself
    (pipelines/app/airflow_env.py): it must migrate the services' PostgreSQL DB, in their home,
    with their users, not a SQLite DB of its own."""
    env = {k: interpolated(v) for k, v in environment(INIT).items()}
    home = Settings(home=Path(env["SEALDEAL_HOME"]))
    setup = airflow_environ(home, base=env)
    changed = {
        k: (v, setup[k])
        for k, v in env.items()
        if k != "AIRFLOW__CORE__DAGS_FOLDER" and setup[k] != v  # /app/dags in the image
    }
    assert changed == {}
    assert setup["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == str(
        Path(env["AIRFLOW_HOME"]) / PASSWORDS_FILE
    )
    assert env["SEALDEAL_AIRFLOW_USERS"] == DEFAULT_USERS


def test_airflow_init_comes_first_and_every_service_has_a_health_check():
    assert services()[INIT]["command"] == ["sealdeal", "airflow", "setup"]
    assert services()[INIT]["restart"] == "no"
    for name, service in services().items():
        if name == INIT:
            continue
        assert "healthcheck" in service, name
        if name.startswith("airflow-"):
            depends = service["depends_on"]
            assert depends[INIT] == {"condition": "service_completed_successfully"}, name
            for backend in ("postgres", "redis"):
                assert depends[backend] == {"condition": "service_healthy"}, (name, backend)
    for name in WORKERS:  # they call the task execution API
        assert services()[name]["depends_on"]["airflow-api-server"]["condition"] == (
            "service_healthy"
        )
    assert WRITER_POOL in DEPLOY_DOC.read_text(encoding="utf-8")


# -- secrets -----------------------------------------------------------------------------------


def test_no_secret_is_written_in_the_compose_file():
    assert committed_secrets(services()) == []
    urls = [v for v in environment(INIT).values() if URL_PASSWORD.search(v)]
    assert len(urls) == 3, urls  # the DB, the broker, the result backend: each checked
    for name, secret in compose()["secrets"].items():
        assert REQUIRED_VARIABLE.fullmatch(secret["file"]), name
    bad = {
        "x": {
            "environment": {
                "POSTGRES_PASSWORD": "airflow",
                "AIRFLOW__API_AUTH__JWT_SECRET": "${JWT:-changeme}",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://airflow:airflow@db/airflow",
                "REDISCLI_AUTH": "${REDIS_PASSWORD}x",
                "SEALDEAL_AUTH_FILE": "/etc/sealdeal/auth.toml",
                "AIRFLOW__CELERY__BROKER_URL": "redis://:${REDIS_PASSWORD:?set it}@redis:6379/0",
            }
        }
    }
    assert committed_secrets(bad) == [
        "x: POSTGRES_PASSWORD is not a required ${VARIABLE}",
        "x: AIRFLOW__API_AUTH__JWT_SECRET is not a required ${VARIABLE}",
        "x: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN has a password in its URL",
        "x: REDISCLI_AUTH is not a required ${VARIABLE}",
    ]


def test_only_the_workers_get_the_pseudonymisation_key():
    holders = {name for name in services() if "SEALDEAL_SECRET_KEY" in environment(name)}
    assert holders == WORKERS
    assert REQUIRED_VARIABLE.fullmatch(environment("airflow-worker-1")["SEALDEAL_SECRET_KEY"])


def test_the_env_example_lists_every_required_variable_and_no_secret():
    without_comments = re.sub(r"(^|\s)#.*$", "", COMPOSE.read_text(encoding="utf-8"), flags=re.M)
    required = set(REQUIRED_VARIABLE.findall(without_comments))
    assert {"SEALDEAL_SECRET_KEY", "POSTGRES_PASSWORD", "AIRFLOW_JWT_SECRET"} <= required
    example = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    assert required <= set(example), required - set(example)
    filled = {k for k, v in example.items() if SECRET_NAME.search(k) and v.strip()}
    assert filled == set()


def test_the_dashboards_sign_in_with_a_mounted_configuration():
    dashboards = services()["dashboards"]
    assert environment("dashboards")["SEALDEAL_AUTH_CONFIG"] == "/run/secrets/sealdeal_auth"
    assert dashboards["secrets"] == ["sealdeal_auth"]


# -- ports -------------------------------------------------------------------------------------


def test_only_the_api_server_and_the_dashboards_publish_a_port_on_loopback_as_documented():
    published = {name: s["ports"] for name, s in services().items() if s.get("ports")}
    assert published == {name: [mapping] for name, mapping in PUBLISHED.items()}
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    for name, mapping in PUBLISHED.items():
        assert f"`{mapping}`" in doc, mapping
        port = mapping.rsplit(":", 1)[1]
        command = services()[name]["command"]
        assert command[command.index("--port") + 1] == port, name
    assert "--address" in services()["dashboards"]["command"]  # 0.0.0.0 inside its container


# -- the image ---------------------------------------------------------------------------------


def test_the_image_installs_the_locked_dependencies_with_the_cluster_extra():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    syncs = re.findall(r"uv sync[^\n&]*", text)
    assert len(syncs) == 2, syncs  # dependencies, then the project
    for sync in syncs:
        options = sync.split()
        assert "--frozen" in options, sync
        assert "--no-dev" in options, sync
        assert options[options.index("--extra") + 1] == "cluster", sync
    assert "uv lock" not in text and "pip install -r" not in text
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "cluster" in pyproject["project"]["optional-dependencies"]
    lock = (ROOT / "uv.lock").read_text(encoding="utf-8")
    assert re.search(r'^provides-extras = \[[^\]]*"cluster"', lock, re.M)
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text(encoding="utf-8")
    uv_pin = re.search(r'"uv==([^"]+)"', bootstrap).group(1)
    assert f'"uv=={uv_pin}"' in text  # the uv scripts/bootstrap.sh installs


def test_every_compose_service_is_named_in_the_deploy_doc():
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    assert [name for name in services() if f"`{name}`" not in doc] == []
