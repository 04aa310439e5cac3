"""Spans of minutes -> maximal runs, per user, organization and category (NumPy).

A Coder session covers the minutes from its first to its last; a user's
sessions of one category and organization overlap, nest and touch. Each
minute counts once, so the spans of a kind merge into runs: maximal
stretches of contiguous minutes, which neither overlap nor touch.

Done in one sorted pass over integer arrays: the three key columns become
dictionary numbers (Arrow), the spans are sorted by key and first minute,
and a span starts a new run when it begins past the furthest last minute
of the spans before it in its key, plus one (a running maximum that starts
again with each key). A window function in SQL computes the same, at about
twice the cost (its sort partitions by text keys and orders by two columns).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from .. import partitions

Ints = npt.NDArray[np.int64]

#: The columns that name a run's kind, then its first and last minute.
KEYS = ("user_id", "org", "category")


def merge(spans: pa.Table, fits: float = partitions.FITS) -> pa.Table:
    """The runs of ``spans`` (columns :data:`KEYS`, ``first_m``, ``last_m``, with
    ``first_m <= last_m``): the same columns, one row per run, in order of their kind
    and ``first_m``.

    ``fits``: below it, several integers are packed into one to sort them (a
    test lowers it to take the other way).
    """
    if spans.num_rows == 0:
        return spans.select([*KEYS, "first_m", "last_m"])
    encoded = [
        pc.dictionary_encode(spans.column(name).combine_chunks(), null_encoding="encode")
        for name in KEYS
    ]
    codes = [np.asarray(column.indices, dtype=np.int64) for column in encoded]
    first = np.asarray(spans.column("first_m").combine_chunks(), dtype=np.int64)
    last = np.asarray(spans.column("last_m").combine_chunks(), dtype=np.int64)
    order, key = _sorted(codes, [len(column.dictionary) for column in encoded], first, fits)
    key, first, last = key[order], first[order], last[order]
    starts = _run_starts(key, first, last, fits)
    rows = order[starts]
    run_first = first[starts]
    run_last = np.maximum.reduceat(last, starts)
    # Dictionary columns: DuckDB reads them as text, and nothing is copied per row here.
    columns = {
        name: pa.DictionaryArray.from_arrays(pa.array(code[rows]), column.dictionary)
        for name, column, code in zip(KEYS, encoded, codes, strict=True)
    }
    return pa.table({**columns, "first_m": run_first, "last_m": run_last})


def _sorted(codes: list[Ints], sizes: list[int], first: Ints, fits: float) -> tuple[Ints, Ints]:
    """The order of the spans by key, then first minute; and each span's key (a number)."""
    if float(np.prod(sizes, dtype=np.float64)) < fits:
        key = codes[0]
        for code, size in zip(codes[1:], sizes[1:], strict=True):
            key = key * size + code
        return partitions.order(key, first, fits), key
    # Too many kinds to pack: sort by each column, then number the kinds in that order.
    order = np.lexsort((first, *reversed(codes)))
    key = np.empty(len(first), np.int64)
    key[order] = np.cumsum(partitions.starts(*(code[order] for code in codes)))
    return order, key


def _run_starts(key: Ints, first: Ints, last: Ints, fits: float) -> Ints:
    """The rows (sorted by key, then first minute) that start a run: a key's first row,
    and each row that begins past the furthest last minute before it, plus one."""
    new_run = partitions.starts(key)
    reach = partitions.reach_before(new_run, first, last, fits)
    new_run[1:] |= first[1:] > reach[1:] + 1
    return np.flatnonzero(new_run)
