"""What the store's commands return: counts, and the store's description."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .. import sources


@dataclass(frozen=True)
class FileCounts:
    """What one file brought to one ingest run."""

    file: str
    rows: int
    new: int
    duplicates: int
    rejected: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows": self.rows,
            "new": self.new,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }


@dataclass(frozen=True)
class IngestResult:
    """The counts of one ingest run, per file and in total."""

    path: Path
    files: tuple[FileCounts, ...]
    diagnostics: sources.Diagnostics  # what the files held, duplicates included
    kept_rejects: int = 0  # invalid rows this run added to the rejects table
    new_unknown: list[tuple[str, int]] = field(default_factory=list)  # new events, by category

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def new(self) -> int:
        return sum(f.new for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        diagnostics = self.diagnostics
        return {
            "db": str(self.path),
            "files": [f.to_dict() for f in self.files],
            "rows": self.rows,
            "new": self.new,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejected_reasons": dict(diagnostics.invalid_reasons),
            "unknown_categories": dict(diagnostics.unknown_values),
        }


@dataclass(frozen=True)
class UsersResult:
    """What one ``users import`` did."""

    path: Path
    users: int  # distinct ids in the file
    added: int
    updated: int
    unchanged: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "db": str(self.path),
            "users": self.users,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }


@dataclass(frozen=True)
class StoreInfo:
    """What ``activity-report info`` shows."""

    path: Path
    size_bytes: int
    schema_version: int
    events: int
    first_event: datetime | None
    last_event: datetime | None
    categories: list[tuple[str, int]]
    organizations: list[tuple[str | None, int]]
    users: int
    rejects: int
    rejected_reasons: list[tuple[str, int]]
    ingested_files: int
    last_ingest: datetime | None
    created_by: str | None = None  # the release that made the store
    written_by: str | None = None  # the release that last wrote to it (None: before 0.2.0)
    org_names: dict[str, str] = field(default_factory=dict)  # the organization directory

    def to_dict(self) -> dict[str, Any]:
        return {
            "db": str(self.path),
            "size_bytes": self.size_bytes,
            "schema_version": self.schema_version,
            "created_by": self.created_by,
            "written_by": self.written_by,
            "events": self.events,
            "first_event": iso_utc(self.first_event),
            "last_event": iso_utc(self.last_event),
            "categories": [{"category": c, "events": n} for c, n in self.categories],
            "organizations": [
                {"organization_id": o, "name": self.org_names.get(o or ""), "events": n}
                for o, n in self.organizations
            ],
            "users": self.users,
            "rejects": self.rejects,
            "rejected_reasons": dict(self.rejected_reasons),
            "ingested_files": self.ingested_files,
            "last_ingest": iso_utc(self.last_ingest),
        }


def iso_utc(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC (``Z``), or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _from_micros(micros: int | None) -> datetime | None:
    if micros is None:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))
