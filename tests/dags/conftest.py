"""Real Airflow for DAG tests: one SQLite metadata DB per test session, migrated once.

Airflow reads AIRFLOW_HOME when it is first imported, so the environment is set here before
anything imports it; tests outside tests/dags never pay for the import.
"""

from __future__ import annotations

import os

import pytest

from pipelines.app.airflow_env import DAGS_FOLDER, airflow_environ, setup_airflow
from pipelines.core.settings import Settings


@pytest.fixture(scope="session")
def airflow_dagbag(tmp_path_factory):
    airflow_settings = Settings(home=tmp_path_factory.mktemp("airflow-session"))
    os.environ.update(airflow_environ(airflow_settings))
    setup_airflow(airflow_settings)  # `airflow db migrate` + the writer pool, as the demo does
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert not bag.import_errors, bag.import_errors
    return bag
