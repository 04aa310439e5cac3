"""resources.py: DuckDB's memory limit, spill directory and interrupts."""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import pytest

from activity_report import resources
from activity_report.errors import DataError, Interrupted, Kind, UsageError, flag_name
from activity_report.reporting import connect


@pytest.mark.parametrize(
    ("text", "spelled"),
    [
        ("2GB", "2GB"),
        ("512mb", "512MB"),
        (" 1.5 GiB ", "1.5GiB"),
        ("64KiB", "64KiB"),
        ("1tb", "1TB"),
        ("50%", "50%"),
        ("100%", "100%"),
        ("1048576b", "1048576B"),
    ],
)
def test_memory_limits_are_accepted_as_duckdb_spells_them(text: str, spelled: str) -> None:
    assert resources.parse_memory_limit(text) == spelled


FORMS = "use a size such as 512MB, 2GB or 1.5GiB, or a share of the memory such as 50%"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", FORMS),
        ("2", FORMS),
        ("GB", FORMS),
        ("-1GB", FORMS),
        ("2 gigabytes", FORMS),
        ("1e3MB", FORMS),
        ("2GB; SET threads=1", FORMS),
        ("0GB", "it must be above zero"),
        ("0%", "a share must be above 0% and at most 100%"),
        ("101%", "a share must be above 0% and at most 100%"),
    ],
)
def test_bad_memory_limits_are_usage_errors(text: str, reason: str) -> None:
    with pytest.raises(UsageError) as caught:
        resources.parse_memory_limit(text)
    assert str(caught.value) == f"invalid value for memory_limit: {text!r} ({reason})"


def test_temp_dir_may_exist_or_be_made_in_an_existing_folder(tmp_path: Path) -> None:
    assert resources.check_temp_dir(str(tmp_path)) == str(tmp_path)
    assert resources.check_temp_dir(str(tmp_path / "spill")) == str(tmp_path / "spill")


def test_bad_temp_dirs_are_usage_errors(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases = {
        "": "give a folder",
        str(a_file): "it is not a folder",
        str(tmp_path / "no" / "such"): (
            f"neither it nor its parent folder {str(tmp_path / 'no')!r} exists; create it first"
        ),
    }
    for text, reason in cases.items():
        with pytest.raises(UsageError) as caught:
            resources.check_temp_dir(text)
        assert str(caught.value) == f"invalid value for temp_dir: {text!r} ({reason})"


def test_an_unwritable_temp_dir_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root writes anywhere
    with pytest.raises(UsageError) as caught:
        resources.check_temp_dir(str(tmp_path))
    assert str(caught.value) == (
        f"invalid value for temp_dir: {str(tmp_path)!r} (the folder is not writable)"
    )


def test_the_connection_gets_the_limit_and_the_spill_folder(tmp_path: Path) -> None:
    con = connect(memory_limit="100MB", temp_dir=str(tmp_path / "spill"))
    settings = con.execute(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchall()
    assert settings == [("95.3 MiB", str(tmp_path / "spill"))]
    con.close()


def test_the_default_spill_folder_is_in_the_system_temp_directory() -> None:
    con = connect()
    spill = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
    assert spill == resources.default_temp_dir()
    assert "memory_limit" not in resources.Limits().config()  # DuckDB's own default
    con.close()


@pytest.mark.slow  # six million rows sorted past a 64 MB limit
def test_a_query_over_the_limit_spills_and_the_folder_is_removed(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    con = connect(memory_limit="64MB", temp_dir=str(spill))
    con.execute("SET threads = 1")
    result = con.execute(
        "SELECT count(*), sum(i) FROM (SELECT i, random() AS r FROM range(6000000) t(i) ORDER BY r)"
    ).fetchall()
    assert result == [(6_000_000, 17_999_997_000_000)]
    assert spill.is_dir()  # made by DuckDB when it spilled
    con.close()
    assert not spill.exists()


def test_cancelling_a_run_stops_its_running_query() -> None:
    context = resources.RunContext()
    con = connect(context=context)
    failure: list[BaseException] = []

    def long_query() -> None:
        try:
            con.execute("SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3").fetchall()
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            failure.append(exc)

    worker = threading.Thread(target=long_query)
    started = time.monotonic()
    worker.start()
    time.sleep(0.3)
    assert context.cancel() is True
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert time.monotonic() - started < 20
    assert len(failure) == 1 and isinstance(failure[0], duckdb.InterruptException)
    with pytest.raises(Interrupted) as caught:
        context.check()
    assert (str(caught.value), caught.value.kind, caught.value.exit_code) == (
        "interrupted",
        Kind.interrupted,
        130,
    )
    con.close()


def test_out_of_memory_is_explained_with_the_fix() -> None:
    con = connect(memory_limit="8MB")
    con.execute("SET threads = 1")
    with pytest.raises(duckdb.OutOfMemoryException) as caught:
        con.execute("SELECT list(i) FROM range(20000000) t(i)").fetchall()
    explained = resources.explain(caught.value)
    assert isinstance(explained, DataError)
    assert str(explained).startswith("DuckDB ran out of memory (Out of Memory Error: ")
    assert explained.render(flag_name).endswith(  # as the command line words it
        "); raise --memory-limit, or point --temp-dir at a disk with room to spill to"
    )
    assert str(explained).endswith(
        "); raise memory_limit, or point temp_dir at a disk with room to spill to"
    )
    assert resources.explain(ValueError("other")) is None
    con.close()


def test_a_full_spill_disk_is_explained_with_the_fix() -> None:
    full = duckdb.IOException("IO Error: Could not write to the temp directory: No space left")
    explained = resources.explain(full)
    assert isinstance(explained, DataError)
    assert explained.render(flag_name) == (
        "DuckDB could not spill to disk (IO Error: Could not write to the temp directory: "
        "No space left); point --temp-dir elsewhere"
    )
    assert resources.explain(duckdb.IOException("IO Error: No files found")) is None


def test_a_temporary_file_is_removed_even_when_a_signal_comes_as_it_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file is made, then the interrupt of a signal arrives before the caller
    # gets its descriptor: the run knew its name already, and removes it.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made: list[str] = []
    real_open = os.open

    def open_then_interrupted(path: str, flags: int, mode: int = 0o777) -> int:
        os.close(real_open(path, flags, mode))
        made.append(path)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "open", open_then_interrupted)
    context = resources.RunContext()
    with pytest.raises(KeyboardInterrupt):
        context.new_temp_file("activity-report-stdin-", ".csv")
    assert [Path(p).parent for p in made] == [tmp_path] and Path(made[0]).exists()
    context.close()
    assert list(tmp_path.iterdir()) == []


def test_a_temporary_name_someone_else_holds_is_skipped_and_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    names = iter(["taken", "free", "taken", "other"])
    monkeypatch.setattr(secrets, "token_hex", lambda _n: next(names))
    (tmp_path / "p-taken.csv").write_text("not the run's")
    (tmp_path / "p-taken").mkdir()
    context = resources.RunContext()
    fd, path = context.new_temp_file("p-", ".csv")
    os.close(fd)
    folder = context.new_temp_folder("p-")
    assert (Path(path).name, Path(folder).name) == ("p-free.csv", "p-other")
    assert context.temp_files() == [path, folder]
    context.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p-taken", "p-taken.csv"]
    assert (tmp_path / "p-taken.csv").read_text() == "not the run's"
