"""Great Expectations' side of validation: one context, suite, validation definition and
checkpoint per process and quality folder, set up on a thread of its own (importing GX and
building its context take ~4 s); the audit runs through it and Data Docs are built from it.

Processes sharing a quality folder (ingest workers, Airflow tasks) share the saved suite and
checkpoint: a later process reuses them while the rules are unchanged (see _stored_checkpoint).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Before GX is imported: no usage statistics.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from pipelines.ingest.rules import Rule, build_rules
from pipelines.ingest.verdicts import compile_expectation

if TYPE_CHECKING:
    import pandas as pd

SUITE_NAME = "debrief_export_v1_records"
DATASOURCE_NAME = "sealdeal_landing"
ASSET_NAME = "typed_records"
BATCH_DEFINITION_NAME = "whole_chunk"
VALIDATION_DEFINITION_NAME = "debrief_export_v1_record_checks"
CHECKPOINT_NAME = "landing_records"
ID_COLUMN = "source_line"

# Source lines kept per failed expectation in the stored GX result. The full row mapping goes to
# the caller; hundreds of thousands of line numbers per rule would only bloat store and docs.
KEPT_INDEX_LINES = 200

RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",  # the full unexpected_index_list, for the per-row mapping
    "unexpected_index_column_names": [ID_COLUMN],
    "exclude_unexpected_values": True,  # no record values in results or Data Docs
    "return_unexpected_index_query": False,  # else a "df.filter(items=[...])" string per rule
    "partial_unexpected_count": 20,
}


# --------------------------------------------------------------------------------------------
# GX runtime: one context, suite, validation definition and checkpoint per process and dir
# --------------------------------------------------------------------------------------------


class GxRuntime:
    def __init__(self, quality_dir: Path | None):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.quality_dir = quality_dir
        self.rules = build_rules()
        # rule key -> true where the record breaks it; raises for a rule it cannot compile.
        self.fails = {r.key: compile_expectation(r.expectation) for r in self.rules}
        self.lock = threading.Lock()
        if quality_dir is None:
            context = gx.get_context(mode="ephemeral")
        else:
            quality_dir.mkdir(parents=True, exist_ok=True)
            context = gx.get_context(mode="file", project_root_dir=quality_dir)
        context.enable_analytics(False)
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        if quality_dir is not None:
            context.variables.save()
        self.context = context
        digest = _resources_digest(self.rules)
        self.checkpoint = _stored_checkpoint(context, digest) or self._saved_checkpoint(digest)

    def _saved_checkpoint(self, digest: str) -> Any:
        """Save the datasource, suite, validation definition and checkpoint; return the latter."""
        import great_expectations as gx

        context = self.context
        datasource = context.data_sources.add_or_update_pandas(name=DATASOURCE_NAME)
        try:
            asset = datasource.get_asset(ASSET_NAME)
        except LookupError:
            asset = datasource.add_dataframe_asset(ASSET_NAME)
        try:
            batch_definition = asset.get_batch_definition(BATCH_DEFINITION_NAME)
        except KeyError:
            batch_definition = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION_NAME)
        suite = context.suites.add_or_update(
            gx.ExpectationSuite(
                name=SUITE_NAME,
                expectations=[r.expectation for r in self.rules],
                meta={"contract": "docs/spec/debrief-export.md", "digest": digest},
            )
        )
        validation_definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(
                name=VALIDATION_DEFINITION_NAME, data=batch_definition, suite=suite
            )
        )
        return context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=CHECKPOINT_NAME,
                validation_definitions=[validation_definition],
                # Data Docs are built on demand (build_docs), not re-indexed for every chunk.
                actions=[],
                result_format=RESULT_FORMAT,
            )
        )

    def run(self, view: pd.DataFrame, batch_name: str) -> tuple[Any, Any]:
        """Run the checkpoint on one chunk; return (result key, suite validation result)."""
        from great_expectations.core.run_identifier import RunIdentifier

        run_id = RunIdentifier(run_name=safe_name(batch_name), run_time=dt.datetime.now(dt.UTC))
        with self.lock:
            checkpoint_result = self.checkpoint.run(
                batch_parameters={"dataframe": view}, run_id=run_id
            )
        ((key, result),) = checkpoint_result.run_results.items()
        return key, result

    def keep(self, key: Any, result: Any) -> None:
        """Store the result slimmed (file context) or drop it (ephemeral context).

        The validation definition has already stored the whole result. In an ephemeral context
        that store is memory, where a result per chunk would pile up. In a file context the
        result is rewritten with at most KEPT_INDEX_LINES source lines per expectation: the full
        row mapping is the caller's, and 250k line numbers per rule would bloat store and docs.
        This mutates ``result``; call it after the row mapping is taken.
        """
        store = self.context.validation_results_store
        with self.lock:
            if self.quality_dir is None:
                store.remove_key(key)
                return
            for r in result.results:
                for name in ("unexpected_index_list", "partial_unexpected_index_list"):
                    if (r.result or {}).get(name):
                        r.result[name] = first_lines(r.result[name])
            store.set(key, result)

    def build_docs(self) -> Path | None:
        """Render pages for results that have none yet, the suite page and the index."""
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
        )

        context = self.context
        with self.lock:
            site_name = next(iter(context.variables.data_docs_sites or {}))
            new = [
                key
                for key in context.validation_results_store.list_keys()
                if not context.get_docs_sites_urls(
                    resource_identifier=key, site_name=site_name, only_if_exists=True
                )[0]["site_url"]
            ]
            sites = context.build_data_docs(
                site_names=[site_name],
                resource_identifiers=[ExpectationSuiteIdentifier(name=SUITE_NAME), *new],
            )
        index = Path(sites[site_name].removeprefix("file://"))
        return index if index.exists() else None


def _resources_digest(rules: list[Rule]) -> str:
    """What the saved GX resources must match to be reused: the expectations and the result
    format (names are fixed)."""
    configs = [r.expectation.configuration.to_json_dict() for r in rules]
    text = json.dumps([configs, RESULT_FORMAT], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _stored_checkpoint(context: Any, digest: str) -> Any | None:
    """The checkpoint another process (an ingest worker, an Airflow task) saved for this very
    suite, or None. Reused rather than saved again: saving gives the suite's expectations new
    ids, and every other process's checkpoint then fails GX's freshness check."""
    from great_expectations.exceptions import DataContextError

    try:
        suite = context.suites.get(SUITE_NAME)
        checkpoint = context.checkpoints.get(CHECKPOINT_NAME)
    except DataContextError:
        return None
    return checkpoint if (suite.meta or {}).get("digest") == digest else None


_RUNTIMES: dict[Path | None, Future[GxRuntime]] = {}
_RUNTIMES_LOCK = threading.Lock()


def runtime(quality_dir: Path | None) -> Future[GxRuntime]:
    """The process's runtime for quality_dir, set up on a thread of its own the first time.

    Importing GX and setting up its context take ~4 s, mostly Python imports; meanwhile the
    caller goes on reading its first records (Polars, which releases the GIL).
    """
    key = None if quality_dir is None else quality_dir.resolve()
    with _RUNTIMES_LOCK:
        if key not in _RUNTIMES:
            future: Future[GxRuntime] = Future()
            _RUNTIMES[key] = future
            setup = threading.Thread(target=_set_up, args=(key, future), name="gx-setup")
            setup.daemon = True  # a process that never validates need not wait for it
            setup.start()
        return _RUNTIMES[key]


def _set_up(key: Path | None, future: Future[GxRuntime]) -> None:
    try:
        if key is None:
            future.set_result(GxRuntime(key))
            return
        # Workers of a cluster share the folder: one at a time rewrites its GX config.
        key.mkdir(parents=True, exist_ok=True)
        with (key / ".setup.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            future.set_result(GxRuntime(key))
    except BaseException as exc:  # raised to the validator; a later one tries again
        with _RUNTIMES_LOCK:
            if _RUNTIMES.get(key) is future:
                del _RUNTIMES[key]
        future.set_exception(exc)


def first_lines(items: list) -> list:
    out = []
    for item in items[:KEPT_INDEX_LINES]:
        if isinstance(item, dict) and isinstance(item.get(ID_COLUMN), list):
            item = {**item, ID_COLUMN: item[ID_COLUMN][:KEPT_INDEX_LINES]}
        out.append(item)
    return out


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "batch"
