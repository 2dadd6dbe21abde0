"""Policy for every DAG file: thin wiring, documented, tagged, retried, safe writers."""

from __future__ import annotations

import ast
import re

import pytest

from pipelines.app.airflow_env import DAGS_FOLDER, WRITER_POOL

DAG_FILES = sorted(p for p in DAGS_FOLDER.glob("*.py"))
# What a DAG file may import at module level: parsing must stay cheap and free of side effects.
ALLOWED_TOP_LEVEL = {"__future__", "datetime", "pendulum", "airflow", "pipelines.app.airflow_env"}


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_files_import_only_light_modules_at_top(path):
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            allowed = name in ALLOWED_TOP_LEVEL or name.split(".")[0] in ALLOWED_TOP_LEVEL
            assert allowed, f"{path.name} imports {name} at top"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_files_hold_no_sql_or_dataframe_code(path):
    source = path.read_text()
    for pattern in (
        r"\bSELECT\s",
        r"\bINSERT\s",
        r"\bduckdb\b",
        r"\bpolars\b",
        r"\bpl\.",
        "pandas",
    ):
        assert not re.search(pattern, source), (
            f"{path.name} matches {pattern!r}: belongs in pipelines/"
        )


def test_every_dag_is_documented_tagged_and_retried(airflow_dagbag):
    assert airflow_dagbag.dag_ids, "no DAGs found"
    for dag_id in airflow_dagbag.dag_ids:
        dag = airflow_dagbag.get_dag(dag_id)
        assert dag.doc_md and len(dag.doc_md) > 100, dag_id
        assert "sealdeal" in dag.tags, dag_id
        assert dag.catchup is False, dag_id
        for t in dag.tasks:
            assert t.retries >= 1, f"{dag_id}.{t.task_id} has no retries"


def test_warehouse_tasks_take_the_single_writer_pool(airflow_dagbag):
    dag = airflow_dagbag.get_dag("ingest_debriefs")
    writers = {"find_new_files", "commit_files", "build_quality_docs", "announce_new_events"}
    for t in dag.tasks:
        if t.task_id in writers:
            assert t.pool == WRITER_POOL, t.task_id
    assert {t.task_id for t in dag.tasks} >= writers
    # Preparing a file never opens DuckDB: it runs on any worker, several at once.
    assert dag.get_task("prepare_file").pool != WRITER_POOL


def test_ingest_maps_one_task_per_file_and_updates_the_event_log_asset(airflow_dagbag):
    dag = airflow_dagbag.get_dag("ingest_debriefs")
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    assert isinstance(dag.get_task("prepare_file"), MappedOperator)
    # One commit of every prepared file, in file order, after all of them (held ones included).
    commit = dag.get_task("commit_files")
    assert not isinstance(commit, MappedOperator)
    assert commit.upstream_task_ids == {"find_new_files", "prepare_file"}
    assert commit.trigger_rule == "all_done"
    outlets = {t.task_id: [a.name for a in t.outlets] for t in dag.tasks if t.outlets}
    assert outlets == {"announce_new_events": ["sealdeal_event_log"]}
