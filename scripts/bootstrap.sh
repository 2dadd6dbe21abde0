#!/usr/bin/env bash
# Install everything the project needs from its own files: uv (from PyPI), then the locked
# dependencies into .venv. Safe to run again. Arguments go to `uv sync` (scripts/test.sh and
# scripts/cluster.sh: `--extra cluster`, the CeleryExecutor's packages).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
fi
uv sync --frozen --quiet "$@"
