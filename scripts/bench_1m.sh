#!/usr/bin/env bash
# Ingest and build figures at N interviews (default 1,000,000): the numbers in README's
# Performance section. Writes under $BENCH_HOME (default ./data/bench); prints one line a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
BENCH="${BENCH_HOME:-$PWD/data/bench}"
rm -rf "$BENCH" && mkdir -p "$BENCH/home/landing" "$BENCH/holdout"
export SEALDEAL_HOME="$BENCH/home" SEALDEAL_SECRET_KEY="bench-only-key"
t=/usr/bin/time
$t -f "generate_wall_s %e" uv run sealdeal generate --out "$BENCH/gen" --interviews "$N" --seed 42 >/dev/null
# The newest file (~1% of the records) is held back for the incremental build.
mv "$(ls "$BENCH"/gen/*.jsonl | sort | tail -1)" "$BENCH/holdout/"
mv "$BENCH"/gen/*.jsonl "$SEALDEAL_HOME/landing/"
echo "records_ingested $(cat "$SEALDEAL_HOME"/landing/*.jsonl | wc -l)"
echo "records_held_back $(cat "$BENCH"/holdout/*.jsonl | wc -l)"
$t -f "ingest_wall_s %e peak_rss_kb %M" uv run sealdeal ingest --no-progress "$SEALDEAL_HOME/landing" >/dev/null
$t -f "duckdb_read_json_wall_s %e peak_rss_kb %M" uv run python -c "
import duckdb
duckdb.connect('$BENCH/duckdb_only.duckdb').execute(
    \"CREATE TABLE raw AS SELECT * FROM read_json('$SEALDEAL_HOME/landing/*.jsonl', format='newline_delimited')\")"
for i in 1 2 3; do
  $t -f "build_full_wall_s %e peak_rss_kb %M" uv run sealdeal build --full > "$BENCH/build.txt"
  head -1 "$BENCH/build.txt"
done
uv run sealdeal ingest --no-progress "$BENCH/holdout" >/dev/null
$t -f "build_incremental_wall_s %e peak_rss_kb %M" uv run sealdeal build > "$BENCH/build.txt"
head -1 "$BENCH/build.txt"
