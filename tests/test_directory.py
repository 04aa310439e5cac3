"""The user directory."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from activity_report.directory import (
    avatar_hash,
    index,
    parse_roles,
    read_directory_file,
    resolve_user_filters,
)
from activity_report.errors import DataError
from activity_report.model import UserInfo


@pytest.mark.parametrize(
    ("value", "roles"),
    [
        (None, ()),
        ("", ()),
        ('["site-member", "site-manager"]', ("site-member", "site-manager")),
        ("site-member, site-manager", ("site-member", "site-manager")),
        ("a;b|c", ("a", "b", "c")),
        (["x", None, " y "], ("x", "y")),
        ("[not json", ("[not json",)),
    ],
)
def test_parse_roles(value: object, roles: tuple[str, ...]) -> None:
    assert parse_roles(value) == roles


def test_avatar_hash_is_sha256_of_trimmed_lowercased_email() -> None:
    expected = hashlib.sha256(b"joe@example.com").hexdigest()
    assert avatar_hash("  Joe@Example.COM ") == expected


def test_csv_directory_derives_missing_avatar_from_email(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text(
        "id,name,username,roles,avatar_hash,email\n"
        'u1,Joe,joe2,"[""site-member""]",abc,\n'
        "u2,Ann,ann,site-member;auditor,,Ann@Example.com\n",
        encoding="utf-8",
    )
    users = index(read_directory_file(duckdb.connect(), str(path)))
    assert users["u1"] == UserInfo("u1", "Joe", "joe2", ("site-member",), "abc")
    assert users["u2"] == UserInfo(
        "u2", "Ann", "ann", ("site-member", "auditor"), avatar_hash("ann@example.com")
    )


def test_json_directory_with_user_id_column(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps([{"user_id": "u9", "name": "Zed", "roles": ["a", "b"]}]))
    users = index(read_directory_file(duckdb.connect(), str(path)))
    assert users["u9"] == UserInfo("u9", "Zed", None, ("a", "b"), None)


def test_path_with_glob_characters_is_read_literally(tmp_path: Path) -> None:
    (tmp_path / "users[1].csv").write_text("id,name\nu1,REAL\n", encoding="utf-8")
    (tmp_path / "users1.csv").write_text("id,name\nu1,DECOY\n", encoding="utf-8")
    users = read_directory_file(duckdb.connect(), str(tmp_path / "users[1].csv"))
    assert [u.name for u in users] == ["REAL"]


def test_directory_without_id_column_names_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("name,email\nJoe,j@x\n", encoding="utf-8")
    with pytest.raises(DataError) as raised:
        read_directory_file(duckdb.connect(), str(path))
    assert str(raised.value) == (
        f"{path}: the users file has no id column (accepted names: id, user_id); "
        "columns found: name, email"
    )


def test_missing_directory_file() -> None:
    with pytest.raises(DataError, match="no such users file"):
        read_directory_file(duckdb.connect(), "/no/such/users.csv")


def test_user_filter_maps_usernames_to_ids_and_keeps_unknown_values() -> None:
    directory = {"u1": UserInfo("u1", username="joe2")}
    assert resolve_user_filters(["joe2", "u7", "u1"], directory) == ["u1", "u7"]
