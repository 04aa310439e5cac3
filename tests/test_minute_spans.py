"""Coder's sessions as runs of minutes (NumPy), and its uuids as text: against plain Python."""

from __future__ import annotations

import uuid

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activity_report.errors import DataError
from activity_report.sources import coder, minute_spans

#: (user, org, category, first minute, minutes - 1) of a span.
spans_strategy = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2", "u3"]),
        st.sampled_from(["o1", "o2", None]),
        st.sampled_from(["tunnel", "ide", "login"]),
        st.integers(-30, 30),
        st.sampled_from([0, 0, 1, 2, 5, 20]),
    ),
    max_size=40,
)

Run = tuple[str, str | None, str, int, int]


def table(spans: list[tuple[str, str | None, str, int, int]]) -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array([s[0] for s in spans], pa.string()),
            "org": pa.array([s[1] for s in spans], pa.string()),
            "category": pa.array([s[2] for s in spans], pa.string()),
            "first_m": pa.array([s[3] for s in spans], pa.int64()),
            "last_m": pa.array([s[3] + s[4] for s in spans], pa.int64()),
        }
    )


def expected_runs(spans: list[tuple[str, str | None, str, int, int]]) -> list[Run]:
    """Each kind's minutes, then its maximal runs of contiguous ones."""
    minutes: dict[tuple[str, str | None, str], set[int]] = {}
    for user, org, category, first, extra in spans:
        minutes.setdefault((user, org, category), set()).update(range(first, first + extra + 1))
    runs: list[Run] = []
    for kind, ms in minutes.items():
        ordered = sorted(ms)
        start = ordered[0]
        for previous, m in zip(ordered, [*ordered[1:], None], strict=True):
            if m != previous + 1:
                runs.append((*kind, start, previous))
                if m is not None:
                    start = m
    return sorted(runs, key=repr)


def merged(spans: list[tuple[str, str | None, str, int, int]], fits: float = 2.0**62) -> list[Run]:
    out = minute_spans.merge(table(spans), fits=fits)
    return sorted((tuple(row.values()) for row in out.to_pylist()), key=repr)


@settings(max_examples=300, deadline=None)
@given(spans=spans_strategy)
def test_spans_merge_into_the_maximal_runs_of_their_minutes(
    spans: list[tuple[str, str | None, str, int, int]],
) -> None:
    assert merged(spans) == expected_runs(spans)


@settings(max_examples=100, deadline=None)
@given(spans=spans_strategy, fits=st.sampled_from([1, 4, 30]))
def test_the_same_runs_when_the_numbers_do_not_fit_in_one_integer(
    spans: list[tuple[str, str | None, str, int, int]], fits: int
) -> None:
    # Below ``fits``, keys and minutes are packed to sort them; past it, each
    # way that does without packing is taken.
    assert merged(spans, fits) == expected_runs(spans)


def test_overlapping_nested_equal_and_touching_spans() -> None:
    spans = [
        ("u1", "o1", "tunnel", 0, 9),
        ("u1", "o1", "tunnel", 3, 2),  # inside
        ("u1", "o1", "tunnel", 0, 9),  # equal
        ("u1", "o1", "tunnel", 10, 0),  # touches the end
        ("u1", "o1", "tunnel", 12, 0),  # a minute apart
        ("u1", None, "tunnel", 1, 0),  # no organization: another kind
    ]
    assert merged(spans) == [
        ("u1", "o1", "tunnel", 0, 10),
        ("u1", "o1", "tunnel", 12, 12),
        ("u1", None, "tunnel", 1, 1),
    ]


def test_no_spans_give_no_runs() -> None:
    assert minute_spans.merge(table([])).num_rows == 0


IDS = [uuid.UUID(int=7), uuid.UUID("ecc4dc83-98a8-4e7c-a55b-7dea38c8b146"), None, uuid.UUID(int=7)]


#: The forms a driver gives uuids in; pyarrow names arrow.uuid from release 18 on.
UUID_COLUMNS = {
    "fixed-size": pa.array([u and u.bytes for u in IDS], pa.binary(16)),  # arrow.uuid's storage
    "binary": pa.array([u and u.bytes for u in IDS], pa.binary()),  # opaque or binary
    "text": pa.array([u and str(u) for u in IDS], pa.string()),  # already text
}
if hasattr(pa, "uuid"):
    UUID_COLUMNS["arrow.uuid"] = pa.ExtensionArray.from_storage(
        pa.uuid(), UUID_COLUMNS["fixed-size"]
    )


@pytest.mark.parametrize("column", list(UUID_COLUMNS.values()), ids=list(UUID_COLUMNS))
def test_uuids_read_as_bytes_are_written_as_coder_writes_them(column: pa.Array) -> None:
    read = pa.table({"user_id": column, "org": column})
    got = coder._ids_as_text(read, "postgresql://coder@db/coder")
    expected = [u and str(u) for u in IDS]
    assert got.column("user_id").to_pylist() == expected
    assert got.column("org").to_pylist() == expected
    con = duckdb.connect()
    con.register("got", got)
    assert con.sql("DESCRIBE got").fetchall()[0][:2] == ("user_id", "VARCHAR")
    assert con.sql("SELECT user_id FROM got").fetchall() == [(e,) for e in expected]


def test_an_id_that_is_not_a_uuid_is_refused_in_one_line() -> None:
    read = pa.table({"user_id": pa.array([b"short"], pa.binary()), "org": pa.array([None])})
    with pytest.raises(DataError) as caught:
        coder._ids_as_text(read, "postgresql://coder:secret@db/coder")
    message = str(caught.value)
    assert "user_id that is not a uuid" in message
    assert "secret" not in message and "\n" not in message
