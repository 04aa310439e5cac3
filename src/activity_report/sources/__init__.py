"""Event files -> one DuckDB view with the canonical columns.

Which rows count, which are invalid and how categories are normalised is
stated for users in docs/semantics.md ("An event and what it covers",
"Which events are counted").

Every input file, whatever its format or column names, is presented to the
engine as rows of the view ``events_input``:

=============  =======  ===========================================================
column         type     meaning
=============  =======  ===========================================================
ts             BIGINT   event time, microseconds since the Unix epoch (UTC)
end_us         BIGINT   explicit end of coverage (``end_time`` or a duration), or NULL
user_id        VARCHAR  the user, trimmed
category       VARCHAR  normalised: trimmed, lower-case, blanks and hyphens -> ``_``
org            VARCHAR  organization id, trimmed, or NULL
event_id       VARCHAR  the event's id, or NULL
problem        VARCHAR  why the row is invalid, or NULL for a valid row
source_file    VARCHAR  the file the row came from
source_row     BIGINT   the row's 1-based position among its file's data rows;
                        NULL for CSV rows of a scan of several files (see :mod:`.loading`)
=============  =======  ===========================================================

The modules, in the order a run uses them:

- :mod:`.paths`: ``--events`` values -> event files (globs, folders, stdin, FIFOs)
- :mod:`.columns`: the column aliases: which column serves each canonical field
- :mod:`.canonical`: the SQL of the canonical columns, and each row's problem
- :mod:`.mapping`: what the user said about their log (named columns, time
  formats, the input zone, a category map), and its SQL
- :mod:`.jsonl`: how DuckDB reads a JSON Lines or JSON array file
- :mod:`.csv`: how DuckDB reads a CSV file, and the malformed lines it sets aside
- :mod:`.scans`: the files -> DuckDB scans, one per group of files that read alike
- :mod:`.loading`: the scans -> the view and its siblings on a connection
- :mod:`.diagnostics`: what the input held that no report counts

Every name other modules use is importable from here.
"""

from ..backends.protocol import Diagnostics
from .canonical import canonical_select, normalise_category
from .columns import (
    ALIASES,
    ARROW_DURATION_MICROS,
    CATEGORIES,
    DURATION_UNITS,
    EPOCH_MICROS,
    MAX_COVERAGE_US,
    MAX_TIME_US,
    MIN_TIME_US,
    REQUIRED,
    Column,
    Mapping,
    epoch_limit,
    far_timestamps,
    map_columns,
    quote_ident,
)
from .csv import (
    CSV_BUFFER_BYTES,
    MAX_LINE_BYTES,
    REJECT_REASONS,
    check_line_lengths,
    csv_dialect,
    data_row,
    has_rejects,
    not_utf8_error,
    refuse_not_utf8,
    reject_lines_sql,
)
from .diagnostics import (
    UNKNOWN_CATEGORY,
    diagnose,
    refuse_files_without_valid_rows,
    refuse_no_valid_rows,
    tally,
    unknown_in_range,
    unparseable_times,
)
from .loading import (
    VIEW,
    LoadedEvents,
    Summary,
    counted_view,
    counted_view_later,
    load_events,
)
from .mapping import DEFAULT as DEFAULT_READING
from .mapping import FIELDS, TIME_FORMATS, Reading, parse_reading
from .paths import (
    EVENT_SUFFIXES,
    JSON_SUFFIXES,
    STDIN,
    EventFile,
    expand_paths,
    glob_escape,
)
from .repeats import (
    IDENTITY,
    KEPT_COLUMNS,
    hash_table,
    kept_rows,
    read_hashes,
    repeated_hashes,
)
from .scans import describe

__all__ = [
    "ALIASES",
    "DEFAULT_READING",
    "FIELDS",
    "JSON_SUFFIXES",
    "TIME_FORMATS",
    "Reading",
    "parse_reading",
    "ARROW_DURATION_MICROS",
    "CATEGORIES",
    "CSV_BUFFER_BYTES",
    "DURATION_UNITS",
    "EPOCH_MICROS",
    "EVENT_SUFFIXES",
    "IDENTITY",
    "KEPT_COLUMNS",
    "MAX_COVERAGE_US",
    "MAX_LINE_BYTES",
    "MAX_TIME_US",
    "MIN_TIME_US",
    "REJECT_REASONS",
    "REQUIRED",
    "STDIN",
    "Summary",
    "UNKNOWN_CATEGORY",
    "VIEW",
    "Column",
    "Diagnostics",
    "EventFile",
    "LoadedEvents",
    "Mapping",
    "canonical_select",
    "check_line_lengths",
    "counted_view",
    "counted_view_later",
    "csv_dialect",
    "data_row",
    "describe",
    "hash_table",
    "diagnose",
    "epoch_limit",
    "expand_paths",
    "far_timestamps",
    "kept_rows",
    "glob_escape",
    "has_rejects",
    "load_events",
    "read_hashes",
    "repeated_hashes",
    "map_columns",
    "normalise_category",
    "not_utf8_error",
    "quote_ident",
    "refuse_files_without_valid_rows",
    "refuse_no_valid_rows",
    "unparseable_times",
    "refuse_not_utf8",
    "reject_lines_sql",
    "tally",
    "unknown_in_range",
]
