"""The services of the deployment (issue #17), as scripts/cluster.sh declares them: one
`"name|command"` per line of its `SERVICES=( ... )` array, which deploy/docker-compose.yaml
mirrors (tests/deploy/test_compose.py) and the cluster test starts (tests/deploy/test_cluster.py).
"""

from __future__ import annotations

import re

# The services both ways of deploying start (issue #17), and compose's one-shot init.
SERVICES = (
    "postgres",
    "redis",
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker-1",
    "airflow-worker-2",
    "dashboards",
)

SERVICES_ARRAY = re.compile(r"^\s*SERVICES=\(\s*$(.*?)^\s*\)\s*$", re.M | re.S)
SERVICE_LINE = re.compile(r'^\s*"([a-z0-9-]+)\|([^"]*)"\s*$')


def cluster_services(script: str) -> dict[str, str]:
    """name -> command of the script's SERVICES=( ... ) array, in order."""
    array = SERVICES_ARRAY.search(script)
    if array is None:
        raise ValueError("no SERVICES=( ... ) array, one entry a line, closed by ) on its own line")
    services: dict[str, str] = {}
    for line in array.group(1).splitlines():
        if not line.strip() or line.strip().startswith("#"):
            continue
        entry = SERVICE_LINE.match(line)
        if entry is None:
            raise ValueError(f'not a "name|command" entry: {line.strip()}')
        name, command = entry.groups()
        if name in services:
            raise ValueError(f"{name} declared twice")
        services[name] = command
    return services
