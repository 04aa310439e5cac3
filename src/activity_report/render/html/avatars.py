"""Avatars without fetching anything: an identicon from the avatar hash, else initials."""

from __future__ import annotations

import hashlib
import re

from ...model import UserInfo
from .markup import text


def avatar(user: UserInfo) -> str:
    """An identicon from the avatar hash, or the user's initials when there is none."""
    if user.avatar_hash:
        return identicon(user.avatar_hash)
    return f'<span class="avatar initials" aria-hidden="true">{text(initials(user))}</span>'


def identicon(avatar_hash: str) -> str:
    """A 5x5 symmetric pattern in one colour, both drawn from the hash's bytes.

    The SHA-256 hex digest of Gravatar's form is used as it is; any other
    text is hashed first, so every value draws something stable.
    """
    try:
        digest = bytes.fromhex(avatar_hash)
    except ValueError:
        digest = b""
    if len(digest) < 8:
        digest = hashlib.sha256(avatar_hash.encode("utf-8", "replace")).digest()
    hue = int.from_bytes(digest[:2], "big") % 360
    bits = int.from_bytes(digest[2:6], "big")
    cells = []
    for column in range(3):
        for row in range(5):
            if bits >> (column * 5 + row) & 1:
                cells.append((column, row))
                if column < 2:
                    cells.append((4 - column, row))
    path = "".join(f"M{x + 1} {y + 1}h1v1h-1z" for x, y in sorted(cells))
    return (
        '<svg class="avatar" viewBox="0 0 7 7" aria-hidden="true">'
        f'<rect width="7" height="7" fill="hsl({hue} 25% 93%)"/>'
        f'<path d="{path}" fill="hsl({hue} 55% 40%)"/></svg>'
    )


def initials(user: UserInfo) -> str:
    """Up to two letters: of the first and last words of the name, else the username's."""
    words = [w for w in re.split(r"[\s._-]+", user.name or "") if w[:1].isalnum()]
    if words:
        letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    else:
        letters = "".join(c for c in (user.username or user.id) if c.isalnum())[:2]
    return letters.upper() or "?"
