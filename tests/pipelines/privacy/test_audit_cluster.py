"""The PII audit in a cluster: the XComs of a server metadata DB (PostgreSQL) are read too (which
database, how a finding there is located; the scan itself runs against a real PostgreSQL in
tests/deploy/test_cluster.py), the servers' own files are not outputs."""

from __future__ import annotations

from pipelines.privacy.audit import _location, audit_locations

PG = "postgresql+psycopg2://airflow:s3cret-pw@127.0.0.1:55432/airflow"


def test_a_server_metadata_db_is_scanned_and_no_other(settings):
    kinds = [(k, p) for k, p in audit_locations(settings, airflow_db=PG) if k.startswith("xcom")]
    assert kinds == [("xcom_server", PG)]
    sqlite = f"sqlite:///{settings.home / 'airflow' / 'airflow.db'}"
    in_a_task = "airflow-db-not-allowed:///"  # what Airflow 3 gives a task instead
    for url in (sqlite, in_a_task):
        assert not [k for k, _ in audit_locations(settings, airflow_db=url) if k == "xcom_server"]


def test_a_finding_in_it_is_located_without_the_password(settings):
    where = _location(PG, settings.home)
    assert "s3cret-pw" not in where
    assert where.startswith("postgresql+psycopg2://airflow:") and where.endswith("55432/airflow")


def test_the_cluster_servers_files_are_skipped_but_its_airflow_task_logs_are_read(settings):
    server_log = settings.cluster_dir / "logs" / "redis.log"  # says https://redis.io: no output
    task_log = settings.cluster_dir / "airflow" / "logs" / "dag_id=x" / "attempt=1.log"
    for path in (server_log, task_log):
        path.parent.mkdir(parents=True)
        path.write_text("text\n")
    scanned = [
        p for _, p in audit_locations(settings, airflow_home=settings.cluster_dir / "airflow")
    ]
    assert task_log in scanned
    assert server_log not in scanned
