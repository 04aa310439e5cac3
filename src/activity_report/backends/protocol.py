"""The seam between a report and its events: what every backend answers, in shared words.

:func:`~activity_report.reporting.run` asks an :class:`EventSource` what is
wrong with the rows (:class:`Diagnostics`), the span of the matching events,
the counts per bucket and user (:class:`Cell`; held as columns by a
:class:`CellTable`) and the user directory. Each
backend (DuckDB over files or the store, Spark) answers in these types, so
the same model and renderers make the output whatever computed it.

This module holds vocabulary only: no SQL, no engine, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, overload

from ..model import CellColumns, UserInfo

#: How long an event without an end or a duration covers by default: one minute.
#: The parameter table's ``heartbeat`` default, and the one the store's rollups hold.
HEARTBEAT_US = 60_000_000


@dataclass(frozen=True)
class Filters:
    """Which events a report counts: these categories, and these orgs and users if given."""

    categories: Sequence[str]
    orgs: Sequence[str] | None = None
    users: Sequence[str] | None = None


@dataclass(frozen=True)
class Cell:
    """Events and active time of one user in one bucket (the bucket's index)."""

    bucket: int
    user_id: str
    count: int
    duration_us: int


class CellTable(Sequence[Cell]):
    """Cells held as columns: a backend that counts in bulk answers with these.

    A report is built and written from the columns, so no :class:`Cell` (nor
    any other object per cell) is made unless one is read from the sequence.
    """

    def __init__(self, columns: CellColumns) -> None:
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns)

    @overload
    def __getitem__(self, index: int) -> Cell: ...

    @overload
    def __getitem__(self, index: slice) -> list[Cell]: ...

    def __getitem__(self, index: int | slice) -> Cell | list[Cell]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        c = self.columns
        return Cell(
            int(c.bucket[index]), c.user_id[index], int(c.count[index]), int(c.duration_us[index])
        )


@dataclass(frozen=True)
class Counted:
    """A report's cells, and what answered them: the events, or the store's rollups."""

    cells: Sequence[Cell]  # a CellTable from a backend that counts in bulk
    answered_by: Literal["events", "rollups"] = "events"

    def columns(self) -> CellColumns:
        """The cells as columns, whichever way the backend gave them."""
        if isinstance(self.cells, CellTable):
            return self.cells.columns
        return CellColumns.of((c.bucket, c.user_id, c.count, c.duration_us) for c in self.cells)


@dataclass(frozen=True)
class Diagnostics:
    """What the input held that no report counts.

    Invalid rows include the CSV lines DuckDB could not parse; their
    ``invalid_examples`` row is the data row they would have been (line - 1).
    """

    total_rows: int
    invalid_rows: int
    invalid_reasons: list[tuple[str, int]]
    invalid_examples: list[tuple[str, int | None, str]]  # file, row, reason
    unknown_rows: int
    unknown_values: list[tuple[str, int]]
    #: What the report's engine can use, collected in the same pass when asked
    #: for (None otherwise): the categories of the valid rows with an end time
    #: or a duration (the others cover the heartbeat), and the distinct user
    #: ids of the valid rows, both sorted.
    covered_categories: tuple[str, ...] | None = None
    user_ids: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls,
        total_rows: int,
        *,
        reasons: Sequence[tuple[str, int]] = (),
        examples: Sequence[tuple[str, int | None, str]] = (),
        unknown: Sequence[tuple[str, int]] = (),
        unknown_rows: int | None = None,
        covered_categories: tuple[str, ...] | None = None,
        user_ids: tuple[str, ...] | None = None,
    ) -> Diagnostics:
        """The one way every engine builds its diagnostics.

        ``reasons``: every invalid row's reason, counted (most first); the
        invalid rows are their sum. ``examples``: the first invalid rows, in
        the order the engine reads its files; three are kept. ``unknown``:
        the unknown categories, counted (most first); five are kept, and
        ``unknown_rows`` is their sum unless the engine counted the rows
        apart (when it tallied only the first five).
        """
        return cls(
            total_rows=total_rows,
            invalid_rows=sum(n for _, n in reasons),
            invalid_reasons=list(reasons),
            invalid_examples=list(examples)[:3],
            unknown_rows=sum(n for _, n in unknown) if unknown_rows is None else unknown_rows,
            unknown_values=list(unknown)[:5],
            covered_categories=covered_categories,
            user_ids=user_ids,
        )

    def describe(self) -> str:
        """``'3 unparseable time, 1 missing user_id; first in a.csv row 4'``"""
        text = ", ".join(f"{n} {reason}" for reason, n in self.invalid_reasons)
        if self.invalid_examples:
            file, row, _ = self.invalid_examples[0]
            text += f"; first in {file} row {row}" if row is not None else f"; first in {file}"
        return text


class EventSource(Protocol):
    """What a report needs to know about its events."""

    def diagnostics(self) -> Diagnostics:
        """Counts of the invalid rows and of the unknown categories."""
        ...

    def span(
        self,
        filters: Filters,
        heartbeat_us: int,
        start_us: int | None = None,
        end_us: int | None = None,
    ) -> tuple[int, int] | None:
        """The earliest event and the latest covered moment of the matching events."""
        ...

    def cells(self, edges_us: Sequence[int], filters: Filters, heartbeat_us: int) -> Counted:
        """Events and active time per bucket and user, and what answered them."""
        ...

    def directory(self) -> dict[str, UserInfo]:
        """The users who may appear in the report, by id."""
        ...

    def refuse_files_without_valid_rows(self, diagnostics: Diagnostics) -> None:
        """Raise a DataError naming a file none of whose rows is valid."""
        ...

    def unknown_in_range(self, diagnostics: Diagnostics, start_us: int, end_us: int) -> Diagnostics:
        """``diagnostics`` with only the unknown categories of events in ``[start, end)``."""
        ...

    def values_like(self, column: str, values: Sequence[str]) -> set[str]:
        """The values of ``column`` (org, user_id) equal to one of ``values``, ignoring case."""
        ...

    def org_names(self) -> dict[str, str]:
        """The organization directory, id -> name (a file's, else the store's; may be empty)."""
        ...

    def user_ids(self) -> set[str]:
        """Every user id of the events: what a pseudonym given as a user filter may stand for."""
        ...
