#!/usr/bin/env bash
# One command, fresh machine to running demo: install, generate landing files, ingest them
# through the Airflow DAG on a project-local SQLite Airflow, and print what the warehouse holds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export SEALDEAL_HOME="${SEALDEAL_HOME:-$PWD/data}"
uv run sealdeal demo "$@"
