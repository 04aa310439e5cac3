"""Rows sorted by partition, in NumPy: where each partition starts, and what came before.

Two callers walk sorted intervals this way: the store's rollups (the union of
a user's coverage per slot, :mod:`.store.coverage`) and Coder's source (a
user's sessions merged into runs of minutes, :mod:`.sources.minute_spans`).
Plain NumPy over integer arrays, no I/O.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]

#: Below this sum of partition spans, one running maximum serves them all (in int64).
FITS = 2.0**62


def starts(*columns: Ints) -> Flags:
    """Whether each row starts a run of equal values in ``columns`` (sorted, not empty)."""
    first = np.empty(len(columns[0]), np.bool_)
    first[0] = True
    np.not_equal(columns[0][1:], columns[0][:-1], out=first[1:])
    for column in columns[1:]:
        first[1:] |= column[1:] != column[:-1]
    return first


def order(major: Ints, minor: Ints, fits: float = FITS, *, stable: bool = False) -> Ints:
    """The order of the rows by ``major``, then ``minor`` (not empty).

    One sort of both packed into one integer, when the packed values stay
    below ``fits`` (a test lowers it); else a sort by each (a lexsort, stable).
    ``stable``: equal rows keep their order in the packed sort too.
    """
    low, base = int(major.min()), int(minor.min())
    width = int(minor.max()) - base + 1
    if float(int(major.max()) - low) * width + width < fits:
        packed = (major - low) * width + (minor - base)
        return np.argsort(packed, kind="stable" if stable else None)
    return np.lexsort((minor, major))


def reach_before(first: Flags, ts: Ints, te: Ints, fits: float = FITS) -> Ints:
    """Per row, the furthest end of the rows before it in its partition (its own ``ts`` if none).

    ``first``: where each partition starts (:func:`starts`); a partition's rows
    are in order of ``ts``, and ``te >= ts``. One running maximum over the
    whole array, made to start again with each partition: each partition's
    ends are shifted above every end of the partitions before it. When the
    shifts would not fit below ``fits`` (a test lowers it), one running
    maximum per partition.
    """
    begins = np.flatnonzero(first)
    sizes = np.diff(np.append(begins, len(ts)))
    base = np.repeat(ts[begins], sizes)
    relative = te - base  # >= 0: a partition's rows are in time order
    spans = np.maximum.reduceat(relative, begins) + 1
    reach = np.empty_like(ts)
    # Summed as floats: in int64 the sum itself could wrap around.
    if float(spans.sum(dtype=np.float64)) < fits:
        shift = np.repeat(np.cumsum(spans) - spans, sizes)
        running = np.maximum.accumulate(relative + shift)
        reach[1:] = running[:-1] - shift[1:] + base[1:]
    else:
        bounds = np.append(begins, len(ts))
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=False):
            running = np.maximum.accumulate(te[lo:hi])
            reach[lo + 1 : hi] = running[:-1]
    reach[first] = ts[first]
    return reach
