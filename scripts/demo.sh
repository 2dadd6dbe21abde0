#!/usr/bin/env bash
# One command, fresh machine to running demo: install, generate landing files, ingest them
# through the Airflow DAG on a project-local SQLite Airflow, and print what the warehouse holds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export SEALDEAL_HOME="${SEALDEAL_HOME:-$PWD/data}"
# --serve (opt-in) starts the dashboards after the demo; without it the demo ends, as scripts do.
serve=0
args=()
for arg in "$@"; do
    if [[ $arg == --serve ]]; then serve=1; else args+=("$arg"); fi
done
uv run sealdeal demo ${args[@]+"${args[@]}"}
if ((serve)); then
    exec uv run sealdeal serve
fi
echo
echo "Dashboards: scripts/demo.sh --serve, or: SEALDEAL_HOME=$SEALDEAL_HOME uv run sealdeal serve"
echo "            then open http://localhost:8501"
