"""The organization directory: ``orgs import``, ``--orgs FILE``, names, ``--org NAME``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from .conftest import SAMPLE, run_cli, write_csv
from .view_store import signed_in_page

ACME, GLOBEX, INITECH = (
    "8fcf83e2-07c5-4831-9aca-7d6616b738ef",
    "24a366f3-4245-4122-854f-7d993060f938",
    "ca29b1f2-1ea4-40d6-b19d-4d3348f76b72",
)
EVENTS = str(SAMPLE / "events.parquet")
AUGUST = ("--start", "2022-08-01", "--end", "2022-09-01", "--category", "ide")


def orgs_csv(path: Path) -> Path:
    return write_csv(path, ("id", "name"), [(ACME, "Acme"), (GLOBEX, "Globex Corp")])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("orgs")
    db = folder / "events.duckdb"
    assert run_cli("ingest", EVENTS, "--db", str(db)).exit_code == 0
    imported = run_cli("orgs", "import", str(orgs_csv(folder / "orgs.csv")), "--db", str(db))
    assert imported.exit_code == 0, imported.stderr
    assert imported.stderr == (
        f"activity-report: imported 2 organizations into {db}: 2 added, 0 updated, 0 unchanged\n"
    )
    return db


def test_orgs_import_updates_and_lists(tmp_path: Path, store: Path) -> None:
    db = tmp_path / "copy.duckdb"
    db.write_bytes(store.read_bytes())
    renamed = write_csv(tmp_path / "renamed.csv", ("org_id", "name"), [(ACME, "Acme Inc")])
    again = run_cli("orgs", "import", str(renamed), "--db", str(db), "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout) == {
        "store": str(db),
        "organizations": 1,
        "added": 0,
        "updated": 1,
        "unchanged": 0,
    }
    listed = run_cli("orgs", "list", "--db", str(db))
    assert listed.stdout == f"{GLOBEX}  Globex Corp\n{ACME}  Acme Inc\n"
    as_json = run_cli("orgs", "list", "--db", str(db), "--json")
    assert json.loads(as_json.stdout) == {GLOBEX: "Globex Corp", ACME: "Acme Inc"}


def test_org_takes_a_name_and_the_report_shows_it(store: Path) -> None:
    by_id = run_cli("--db", str(store), *AUGUST, "--org", ACME, "--json")
    by_name = run_cli("--db", str(store), *AUGUST, "--org", "acme", "--json")
    assert by_id.exit_code == by_name.exit_code == 0
    assert by_name.stdout == by_id.stdout
    everyone = run_cli("--db", str(store), *AUGUST, "--json")
    assert json.loads(by_name.stdout)["users"] != json.loads(everyone.stdout)["users"]
    table = run_cli("--db", str(store), *AUGUST, "--org", "Acme", "--color", "never")
    assert table.stdout.splitlines()[0] == (
        "2022-08-01 through 2022-08-31 UTC, every 1 week, category ide, organization Acme"
    )


def test_an_orgs_file_names_organizations_of_event_files(tmp_path: Path, store: Path) -> None:
    orgs = str(orgs_csv(tmp_path / "orgs.csv"))
    by_id = run_cli("--db", str(store), *AUGUST, "--org", GLOBEX, "--org", INITECH, "--json")
    by_name = run_cli(
        "--events", EVENTS, "--orgs", orgs, *AUGUST, "--org", "Globex corp", "--org", INITECH,
        "--json",
    )  # fmt: skip
    assert by_name.exit_code == 0, by_name.stderr
    assert by_name.stdout == by_id.stdout
    html = run_cli("--events", EVENTS, "--orgs", orgs, *AUGUST, "--org", ACME, "--format", "html")
    assert "<dt>Organizations</dt><dd>Acme</dd>" in html.stdout


def test_a_name_two_organizations_share_is_refused_with_their_ids(tmp_path: Path) -> None:
    orgs = write_csv(tmp_path / "orgs.csv", ("id", "name"), [(ACME, "Acme"), (GLOBEX, "acme")])
    shared = run_cli("--events", EVENTS, "--orgs", str(orgs), *AUGUST, "--org", "ACME")
    assert (shared.exit_code, shared.stdout) == (2, "")
    assert shared.stderr == (
        f"activity-report: error: --org 'ACME': 2 organizations have this name (ids: {GLOBEX}, "
        f"{ACME}); give the id instead\n"
    )
    by_id = run_cli("--events", EVENTS, "--orgs", str(orgs), *AUGUST, "--org", ACME, "--json")
    assert by_id.exit_code == 0, by_id.stderr


def test_an_org_that_is_no_id_and_no_name_is_told_the_names(tmp_path: Path) -> None:
    orgs = str(orgs_csv(tmp_path / "orgs.csv"))
    unknown = run_cli("--events", EVENTS, "--orgs", orgs, *AUGUST, "--org", "acme-inc", "--json")
    assert unknown.exit_code == 0, unknown.stderr
    assert unknown.stderr.splitlines()[0] == (
        "activity-report: warning: --org 'acme-inc' matches no organization id in the data, "
        "nor a name of the organization directory ('Acme', 'Globex Corp')"
    )


def test_info_names_the_organizations_it_counts(store: Path) -> None:
    shown = run_cli("info", "--db", str(store), "--json")
    assert shown.exit_code == 0, shown.stderr
    names = {o["organization_id"]: o["name"] for o in json.loads(shown.stdout)["organizations"]}
    assert names[ACME] == "Acme" and names[GLOBEX] == "Globex Corp"
    assert all(names[o] is None for o in names if o not in (ACME, GLOBEX))
    table = run_cli("info", "--db", str(store), env={"COLUMNS": "120"})
    assert any(ACME in line and "Acme" in line for line in table.stdout.splitlines())


def test_the_python_api_takes_an_orgs_file(tmp_path: Path, store: Path) -> None:
    import activity_report as ar

    by_name = ar.report(
        events=EVENTS,
        orgs_file=str(orgs_csv(tmp_path / "orgs.csv")),
        org=["Globex Corp"],
        start="2022-08-01",
        end="2022-09-01",
        category="ide",
    )
    by_id = ar.report(db=store, org=[GLOBEX], start="2022-08-01", end="2022-09-01", category="ide")
    assert by_name.to_api() == by_id.to_api()
    assert by_name.report.meta is not None
    assert by_name.report.meta.org_labels == ("Globex Corp",)


def test_the_metrics_view_lists_organizations_by_name(store: Path) -> None:
    page = signed_in_page(store, "/?category=ide&start=2022-08-01&end=2022-08-31", "orgs")
    assert f'<option value="{ACME}">Acme</option>' in page
    assert f'<option value="{GLOBEX}">Globex Corp</option>' in page
    assert f'<option value="{INITECH}">{INITECH}</option>' in page


def test_an_orgs_file_without_names_is_one_line(tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "bad.csv", ("id", "title"), [(ACME, "Acme")])
    run = run_cli("--events", EVENTS, "--orgs", str(bad))
    assert run.exit_code == 1
    assert run.stderr == (
        f"activity-report: error: {bad}: an organizations file needs an id column (accepted "
        "names: id, organization_id, org_id) and a name column; columns found: id, title\n"
    )


@pytest.mark.slow
def test_spark_reads_an_orgs_file_as_duckdb_does(spark: SparkSession, tmp_path: Path) -> None:
    orgs = str(orgs_csv(tmp_path / "orgs.csv"))
    args = ("--events", EVENTS, "--orgs", orgs, *AUGUST, "--org", "Globex corp", "--org", INITECH)
    for shown in (("--json",), ("--format", "html"), ("--color", "never")):
        duck = run_cli(*args, *shown)
        spark_run = run_cli(*args, *shown, "--engine", "spark")
        assert duck.exit_code == spark_run.exit_code == 0, spark_run.stderr
        assert spark_run.stdout == duck.stdout
        assert spark_run.stderr == duck.stderr
    assert "Globex Corp" in duck.stdout


def test_seats_take_an_organization_name_too(store: Path) -> None:
    window = ("--start", "2022-08-01", "--end", "2022-09-01")
    by_id = run_cli("seats", "--db", str(store), *window, "--org", ACME, "--json")
    by_name = run_cli("seats", "--db", str(store), *window, "--org", "ACME", "--json")
    everyone = run_cli("seats", "--db", str(store), *window, "--json")
    assert by_id.exit_code == by_name.exit_code == 0, by_name.stderr
    assert by_name.stdout == by_id.stdout != everyone.stdout
    assert "organization id or name" in run_cli("seats", "--help").stdout
