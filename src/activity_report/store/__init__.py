"""The persistent store (``--db``): a DuckDB file of deduplicated events.

Users run ``activity-report ingest`` from cron each night and reports over
months of history read the store instead of every log file again. The store
holds (the steps of :data:`.schema.MIGRATIONS`):

===========  =================================================================
table        what it holds
===========  =================================================================
meta         ``key``/``value`` pairs: ``created_by``, ``written_by``
migrations   the schema steps applied: ``name``, ``applied_at`` (the one
             record of the schema version: how many steps)
events       the canonical columns of :mod:`.sources` (``ts``, ``end_us``,
             ``user_id``, ``category``, ``org``, ``event_id``) and
             ``ingest_file``, the :data:`ingests` row of the file it came from
minute_runs  runs of active minutes (``ingest --coder``): ``ts``, ``end_us``,
             ``user_id``, ``category``, ``org``, ``ingest_file``; each minute
             of a run is an event (:mod:`.minute_runs`)
rollups      counts and active time per 15-minute slot and numbered user
             (:mod:`.rollups`); ``rollups_daily`` the same per UTC day;
             ``rollup_users`` the ``user_id`` of each number
rejects      invalid rows: file, row, reason, when, and the values read
users        the user directory: ``id``, ``name``, ``username``,
             ``roles`` (VARCHAR[]), ``avatar_hash``
ingests      one row per file per run: ``file``, ``rows``, ``new``,
             ``duplicates``, ``rejected``, ``ingested_at``
===========  =================================================================

Duplicates. An event with an id is the same event as any other with that
id. Id-less events with equal canonical content (time, user, category,
organization, end of coverage) are copies: the store keeps, per content, as
many copies as the most any one ingested file held, so a file's own repeats
are kept and a re-ingest or an overlapping export adds only the copies
beyond those stored. Every comparison is on the real columns, so no hash
collision can ever drop an event. The rows of a run stream from its files
(see :mod:`.ingest`); a 64-bit hash of each row's identity only finds the
few keys that occur more than once in the batch, so the common case (no
duplicates inside the batch) costs one sort of hashes.
The rows not already in the store are then appended by two anti joins (by
id, and by content), each against the few stored events that can match:
a semi join, built on the run's ids (or times and users), finds those in
one scan of the store, so no hash table ever holds the stored events (the
run's own structures follow its files, not the store). There is no index: an ART
index on the id made inserts about 3x and re-ingests about 6x slower in
measurements, and the joins need none.

Schema. :data:`MIGRATIONS` lists named steps, applied in order by the first
writer, each in its own transaction (:meth:`Store.atomic`), and recorded in
the ``migrations`` table. Readers read an older shape as it is.

Atomicity. A run is one transaction: any failure (a file that cannot be
read, ``--strict`` with invalid rows, an interrupt) rolls it back and the
store is exactly as it was.

Concurrency. DuckDB lets one process write a database file, or several read
it. An ingest reads and checks its files before it takes the store, and
holds it only for the merge and commit. A store held by another process is
waited for, up to ``wait`` seconds, then a :class:`~.errors.DataError`
naming that process, never a traceback.

Modules: :mod:`.core` (opening, the file lock, transactions, upgrades),
:mod:`.opening` (the paths refused, the errors of attaching the file),
:mod:`.reading` (the store's reading helpers), :mod:`.schema` (the tables
and their migration steps), :mod:`.ingest` (with :mod:`.scanning` and
:mod:`.staging`), :mod:`.minute_runs` and :mod:`.runs_ingest` (runs of
minutes), :mod:`.users`, :mod:`.info`, :mod:`.rollups`, :mod:`.results`
(what each command returns) and :mod:`.paths` (where the store lives).
"""

from .core import CATALOG, EVENTS_VIEW, Store, check_store_path
from .ingest import INPUT_VIEW, Progress
from .paths import APP_DIR, DEFAULT_NAME, ENV_VAR, default_path
from .results import FileCounts, IngestResult, StoreInfo, UsersResult, iso_utc
from .schema import MIGRATIONS, SCHEMA_VERSION, Migration

__all__ = [
    "APP_DIR",
    "CATALOG",
    "DEFAULT_NAME",
    "ENV_VAR",
    "EVENTS_VIEW",
    "INPUT_VIEW",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "FileCounts",
    "IngestResult",
    "Migration",
    "Progress",
    "Store",
    "StoreInfo",
    "UsersResult",
    "check_store_path",
    "default_path",
    "iso_utc",
]
