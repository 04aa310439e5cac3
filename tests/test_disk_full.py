"""A full disk: one line that says so, naming the file, and no token whose secret was not shown.

The store lives on a small tmpfs mounted for the test (the tests run as
root), filled to within a few kilobytes: DuckDB's commit, or its checkpoint
when the store is detached, really fails with ENOSPC.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from activity_report import resources
from activity_report.errors import flag_name

from .conftest import SAMPLE
from .test_server import cli

LEFT_KB = (0, 16, 128)  # room left on the disk: each fails at another step


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("full") / "store.duckdb"
    assert cli("ingest", str(SAMPLE / "events.csv"), db=db).returncode == 0
    return db


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8M", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def _fill(disk: Path, left_kb: int) -> Path:
    """Fill ``disk`` but for ``left_kb`` kilobytes; returns the filler, to remove."""
    filler = disk / "filler"
    room = shutil.disk_usage(disk).free - left_kb * 1024
    with filler.open("wb") as handle:
        while room > 0:
            chunk = min(room, 1 << 20)
            try:
                handle.write(b"\0" * chunk)
                handle.flush()
            except OSError:
                break
            room -= chunk
    return filler


def _one_line(stderr: str, db: Path) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"activity-report: error: the disk is full: cannot write {db}"), (
        stderr
    )
    assert "unexpected" not in stderr and "cannot read the event files" not in stderr
    return lines[0]


@pytest.mark.slow  # a full disk (tmpfs) per test, and the CLI in children
@pytest.mark.parametrize("left_kb", LEFT_KB)
def test_tokens_create_on_a_full_disk_makes_a_token_only_if_it_shows_it(
    store: Path, disk: Path, left_kb: int
) -> None:
    db = shutil.copy(store, disk / "store.duckdb")
    filler = _fill(disk, left_kb)
    made = cli("tokens", "create", "--name", "full", db=Path(db))
    assert made.returncode == 1
    line = _one_line(made.stderr, Path(db))
    filler.unlink()
    listed = json.loads(cli("tokens", "list", "--json", db=Path(db)).stdout)
    shown = made.stdout.strip()
    for token in listed:  # every token that exists had its secret printed
        assert shown.startswith(f"ar_{token['id']}_"), (made.stdout, listed)
    if listed:
        assert "the token is made (its secret is the line printed)" in line
        assert f"kept in {db}.wal" in line
    else:
        assert "nothing was changed" in line
    # With room again, the store works, and a token made now is the next one.
    again = cli("tokens", "create", "--name", "later", db=Path(db))
    assert again.returncode == 0, again.stderr
    assert len(json.loads(cli("tokens", "list", "--json", db=Path(db)).stdout)) == len(listed) + 1


@pytest.mark.slow  # a full disk (tmpfs) per test, and the CLI in children
@pytest.mark.parametrize("left_kb", LEFT_KB)
def test_users_import_and_ingest_on_a_full_disk_say_so_in_one_line(
    store: Path, disk: Path, left_kb: int, tmp_path: Path
) -> None:
    db = Path(shutil.copy(store, disk / "store.duckdb"))
    newer = tmp_path / "newer.csv"
    lines = (SAMPLE / "events.csv").read_text().splitlines()
    newer.write_text(
        "\n".join([lines[0], *(line.replace("evt-", "new-") for line in lines[1:])]) + "\n"
    )
    filler = _fill(disk, left_kb)
    imported = cli("users", "import", str(SAMPLE / "users.csv"), db=db)
    assert imported.returncode == 1
    _one_line(imported.stderr, db)
    ingested = cli("ingest", str(newer), db=db)
    assert ingested.returncode == 1
    assert "nothing was changed" in _one_line(ingested.stderr, db)
    filler.unlink()
    info = json.loads(cli("info", "--json", db=db).stdout)
    assert info["events"] == len(lines) - 1  # the ingest added nothing


def test_the_disk_full_wording_of_each_failure() -> None:
    class IOException(Exception):
        pass

    commit = IOException(
        'TransactionContext Error: Failed to commit: Could not write file "/d/s.duckdb.wal": '
        "No space left on device"
    )
    assert str(resources.explain(commit)) == (
        "the disk is full: cannot write /d/s.duckdb.wal; nothing was changed: free some "
        "space on its disk and run it again"
    )
    detach = IOException(
        "IO Error: Detached database 'ar_store', but CHECKPOINT during DETACH failed. "
        'Original error: Could not write file "/d/s.duckdb": No space left on device'
    )
    assert str(resources.explain(detach, "the import is committed")) == (
        "the disk is full: cannot write /d/s.duckdb; the import is committed, kept in "
        "/d/s.duckdb.wal, which DuckDB applies when the store is next opened: free some "
        "space on its disk first"
    )
    spill = IOException('Could not write file "/tmp/x/duckdb_temp_block-1.block": Disk full')
    explained = resources.explain(spill)
    assert explained is not None
    assert "point --temp-dir at a disk with room" in explained.render(flag_name)
    assert resources.disk_full(IOException("Could not set lock on file")) is None
    python = OSError(28, "No space left on device", "/d/report.csv")
    assert str(resources.disk_full(python)).startswith(
        "the disk is full: cannot write /d/report.csv"
    )


@pytest.mark.slow  # a full disk (tmpfs) per test, and the CLI in children
def test_a_token_whose_secret_cannot_be_printed_is_not_made(store: Path, tmp_path: Path) -> None:
    import sys

    db = Path(shutil.copy(store, tmp_path / "store.duckdb"))
    with open("/dev/full", "w") as full:  # every write fails: No space left on device
        made = subprocess.run(
            [sys.executable, "-m", "activity_report", "tokens", "create", "--name", "lost",
             "--db", str(db)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )  # fmt: skip
    assert made.returncode == 1
    assert made.stderr == (
        "activity-report: error: cannot print the token: No space left on device; "
        "no token was made\n"
    )
    assert json.loads(cli("tokens", "list", "--json", db=db).stdout) == []
    assert cli("tokens", "create", "--name", "lost", db=db).returncode == 0  # the name is free
