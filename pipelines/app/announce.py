"""When `ingest_debriefs` announces the event log: only when the log holds events the published
snapshot does not reflect yet.

Every scheduled ingest run used to mark the event-log Asset updated, so `build_insights` rebuilt,
re-checked, re-published and re-audited an identical snapshot every 15 minutes. Comparing with
the published snapshot (not with what this run appended) also catches events that arrived by
another way: `sealdeal ingest` or `sealdeal erase --no-publish` from a shell, or a previous run
whose build or publish failed.
"""

from __future__ import annotations

from pipelines.app.tasks import event_log_position
from pipelines.core.settings import Settings
from warehouse.publish import published_snapshot


def published_position(settings: Settings) -> int:
    """The event-log position the current snapshot is computed up to (0: nothing published)."""
    snapshot = published_snapshot(settings.published_dir)
    return snapshot[1] if snapshot else 0


def unpublished_events(settings: Settings | None = None) -> dict[str, int]:
    """Both positions (XCom-safe); the log is ahead when it holds unpublished events."""
    settings = settings or Settings.from_env()
    return {
        "event_log_position": event_log_position(settings),
        "published_position": published_position(settings),
    }
