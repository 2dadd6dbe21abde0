"""The PII audit reads the XComs of a server metadata DB too (a cluster's PostgreSQL): which
database it scans and how a finding there is located. The scan itself runs against a real
PostgreSQL in tests/deploy/test_cluster.py."""

from __future__ import annotations

from pipelines.privacy.audit import _location, audit_locations

PG = "postgresql+psycopg2://airflow:s3cret-pw@127.0.0.1:55432/airflow"


def test_a_server_metadata_db_is_scanned_and_a_sqlite_one_is_not_twice(settings):
    kinds = [(k, p) for k, p in audit_locations(settings, airflow_db=PG) if k.startswith("xcom")]
    assert kinds == [("xcom_server", PG)]
    sqlite = f"sqlite:///{settings.home / 'airflow' / 'airflow.db'}"
    assert not [k for k, _ in audit_locations(settings, airflow_db=sqlite) if k == "xcom_server"]


def test_a_finding_in_it_is_located_without_the_password(settings):
    where = _location(PG, settings.home)
    assert "s3cret-pw" not in where
    assert where.startswith("postgresql+psycopg2://airflow:") and where.endswith("55432/airflow")
