"""Where SealDeal keeps its state, and the pseudonymisation key.

All state lives under SEALDEAL_HOME (default ./data): the warehouse, landing zone, quality
reports, published snapshots and the key file. Nothing is written anywhere else.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

KEY_ENV = "SEALDEAL_SECRET_KEY"
KEY_VARIABLE = "sealdeal_secret_key"  # Airflow Variable consulted when the env var is unset
KEY_FILE_NAME = "secret.key"
K_ENV = "SEALDEAL_SUPPRESSION_K"  # the k of the k-rule on published aggregates
K_DEFAULT = 5  # rows resting on 1 to k-1 distinct clients are suppressed
MEMORY_ENV = "SEALDEAL_DUCKDB_MEMORY_LIMIT"  # DuckDB's buffer limit for ingest and build
MEMORY_DEFAULT = "1GB"  # DuckDB's own default is 80% of RAM, kept as cache for the whole run
# An ingest reads back little of what it writes: a smaller buffer spills the log's not yet
# checkpointed blocks instead of holding them (1M interviews, three runs each, peak RSS: 1GB
# 2.74 GiB, 512MB 2.23 GiB, 256MB 1.99 GiB for 5% more time).
INGEST_MEMORY_DEFAULT = "256MB"
WAIT_ENV = "SEALDEAL_WAIT"  # seconds a command waits while another process holds the warehouse
WAIT_DEFAULT = 60.0  # long enough for an incremental build or a small ingest to finish
SINGLE_FIRM_ENV = "SEALDEAL_SINGLE_FIRM"  # one firm's deployment: no landing/<firm_id>/ zones


class MissingKeyError(RuntimeError):
    pass


class KeyMismatchError(RuntimeError):
    """The warehouse was written under another pseudonymisation key."""


def key_fingerprint(master_key: bytes) -> str:
    """A one-way fingerprint of the key: tells two keys apart, reveals nothing of either."""
    return hmac.digest(master_key, b"sealdeal-key-check", "sha256").hex()[:16]


@dataclass(frozen=True)
class Settings:
    home: Path

    @classmethod
    def from_env(cls, home: str | Path | None = None) -> Settings:
        root = Path(home or os.environ.get("SEALDEAL_HOME") or "data")
        return cls(home=root.resolve())

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def single_firm(self) -> str | None:
        """The firm of a single-firm deployment, whose files may lie anywhere in the landing
        folder; None (the default) when files arrive in per-firm zones, landing/<firm_id>/."""
        return os.environ.get(SINGLE_FIRM_ENV) or None

    @property
    def staging_dir(self) -> Path:
        return self.home / "staging"

    @property
    def quality_dir(self) -> Path:
        return self.home / "quality"

    @property
    def published_dir(self) -> Path:
        return self.home / "published"

    @property
    def suppression_k(self) -> int:
        return int(os.environ.get(K_ENV) or K_DEFAULT)

    @property
    def duckdb_memory_limit(self) -> str:
        return os.environ.get(MEMORY_ENV) or MEMORY_DEFAULT

    @property
    def ingest_memory_limit(self) -> str:
        """DuckDB's buffer while committing landing files (the same variable sets both)."""
        return os.environ.get(MEMORY_ENV) or INGEST_MEMORY_DEFAULT

    @property
    def access_log_dir(self) -> Path:
        """The dashboards' access log: sign-in e-mails by design, so the PII audit skips it."""
        return self.home / "access_log"

    @property
    def cluster_dir(self) -> Path:
        """scripts/cluster.sh's servers: their data, logs and secrets (infrastructure, not an
        output: the PII audit reads only the Airflow task logs in it)."""
        return self.home / "cluster"

    @property
    def key_file(self) -> Path:
        return self.home / KEY_FILE_NAME

    def ensure_dirs(self) -> None:
        for d in (self.home, self.landing_dir, self.staging_dir, self.quality_dir):
            d.mkdir(parents=True, exist_ok=True)


def load_secret_key(settings: Settings, *, create: bool = False) -> bytes:
    """The master pseudonymisation key: env var, else Airflow Variable, else the key file.

    With create=True (the demo and first-run path) a random key is written to the key file with
    0600 permissions. The key is never logged or returned in any printable form by this module.
    """
    value = os.environ.get(KEY_ENV)
    if not value:
        value = _airflow_variable()
    if value:
        return value.encode()
    path = settings.key_file
    if path.exists():
        return path.read_bytes().strip()
    if not create:
        raise MissingKeyError(
            f"no pseudonymisation key: set {KEY_ENV}, the Airflow Variable {KEY_VARIABLE!r}, "
            f"or run `sealdeal init` to create {path}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    return path.read_bytes().strip()


def _airflow_variable() -> str | None:
    # Only inside an Airflow task: importing Airflow elsewhere costs seconds for nothing.
    if "AIRFLOW_CTX_DAG_ID" not in os.environ:
        return None
    try:
        from airflow.sdk import Variable

        return Variable.get(KEY_VARIABLE, default=None)
    except Exception:  # no Variable backend reachable: fall back to the key file
        return None
