"""The layers contract of pyproject.toml ([tool.importlinter]), run by import-linter on every test
run: each layer imports only the layers below it, and no package's modules import each other in a
cycle. Imports inside functions count (grimp reads every import statement of a module)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
from importlinter.api import read_configuration

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_the_layers_contract_is_kept():
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def test_the_contract_covers_every_package_of_the_code():
    config = read_configuration(str(ROOT / "pyproject.toml"))
    layers = " | ".join(config["contracts_options"][0]["layers"])
    named = {name.strip() for name in layers.replace("|", " ").split()}
    packages = {
        f"pipelines.{p.name}"
        for p in (ROOT / "pipelines").iterdir()
        if p.is_dir() and (p / "__init__.py").exists()
    }
    assert packages | {"dashboards", "warehouse"} <= named


def test_an_import_inside_a_function_is_seen(tmp_path, monkeypatch):
    # The contract would be toothless if grimp skipped the imports hidden in function bodies
    # (how ingest and erasure once imported each other).
    pkg = tmp_path / "probe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text("def f():\n    from probe import high\n    return high\n")
    (pkg / "high.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("probe", cache_dir=None)
    assert graph.direct_import_exists(importer="probe.low", imported="probe.high")
