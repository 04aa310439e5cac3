"""The store's tokens, copied in memory: a request's token is checked before the store is read.

A token of the wrong shape is refused at once. Otherwise the copy answers
while the store's signature is the one it was read under (no writer has
committed since, so no token was made or revoked): a request with a bad
token touches nothing, and learns nothing of the store, even while a
writer holds it. A secret, an expiry and a revocation never change back,
so a known id with a wrong secret, expired or revoked, is refused even by
an older copy. Only when the copy is older than the
store, and cannot decide alone, is the store read (and the copy refreshed).
"""

from __future__ import annotations

import enum
import threading
from typing import TYPE_CHECKING

from .. import tokens
from .reader import Signature

if TYPE_CHECKING:
    import duckdb


class Verdict(enum.Enum):
    valid = "valid"
    invalid = "invalid"
    unknown = "unknown"  # the copy is older than the store: read it, then ask again


class Keyring:
    """The tokens table of the store under one signature (see the module's docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signature: Signature | None = None
        self._tokens: dict[str, tokens.Stored] = {}

    def judge(self, presented: str, signature: Signature) -> Verdict:
        """What the copy says of ``presented`` while the store's signature is ``signature``."""
        parsed = tokens.parse(presented)
        if parsed is None:
            return Verdict.invalid
        token_id, secret_sha256 = parsed
        with self._lock:
            current = self._signature == signature
            token = self._tokens.get(token_id)
        if token is not None and not tokens.in_force(token, secret_sha256):
            return Verdict.invalid  # a secret, an expiry or a revocation never changes back
        if not current:
            return Verdict.unknown  # made or revoked since the copy, perhaps
        return Verdict.valid if token is not None else Verdict.invalid

    def scope(self, presented: str, signature: Signature) -> str | None:
        """The scope of ``presented`` if the copy finds it valid under ``signature``; else None."""
        if self.judge(presented, signature) is not Verdict.valid:
            return None
        parsed = tokens.parse(presented)
        assert parsed is not None  # judged valid
        with self._lock:
            token = self._tokens.get(parsed[0])
        return None if token is None else token.scope

    def refresh(self, con: duckdb.DuckDBPyConnection, signature: Signature) -> None:
        """Copy the tokens of the store read through ``con`` under ``signature``, if need be."""
        with self._lock:
            if self._signature == signature:
                return
        copied = tokens.stored(con)
        with self._lock:
            self._signature, self._tokens = signature, copied
