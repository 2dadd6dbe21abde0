#!/usr/bin/env bash
# The figures in README's Performance section: `sealdeal bench` at N interviews (default
# 1,000,000), every figure the median of 3 runs. Prints the table; writes the JSON with every
# figure, the machine and the versions to $BENCH_JSON (default data/bench/bench-<N>.json).
# The generated data and warehouses stay in $BENCH_HOME when it is set (else a temporary
# folder, removed at the end). Takes about an hour at 1M on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
OUT="${BENCH_JSON:-$PWD/data/bench/bench-$N.json}"
mkdir -p "$(dirname "$OUT")"
args=(--interviews "$N" --json "$OUT")
if [[ -n "${BENCH_HOME:-}" ]]; then
  rm -rf "$BENCH_HOME"
  args+=(--workdir "$BENCH_HOME")
fi
uv run sealdeal bench "${args[@]}"
