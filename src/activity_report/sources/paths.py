"""``--events`` values -> event files: paths, globs, folders, stdin and FIFOs.

A stream (stdin, a FIFO, a process substitution) is copied to a temporary
file, and a name DuckDB cannot read literally gets a temporary link; both
belong to the run's :class:`~activity_report.resources.RunContext`, which
removes them when it closes.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import DataError, UsageError
from ..resources import RunContext

#: What a folder's walk reads: a ``.json`` file only when named, as folders hold other JSON.
FOLDER_SUFFIXES = (
    ".parquet", ".pq", ".csv", ".tsv", ".csv.gz", ".tsv.gz",
    ".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz",
)  # fmt: skip
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
EVENT_SUFFIXES = (*FOLDER_SUFFIXES, ".json", ".json.gz")
STDIN = "-"
#: How messages name stdin.
STDIN_DISPLAY = "<stdin>"


@dataclass(frozen=True)
class EventFile:
    path: str  # the file itself, taken literally
    display: str  # what messages name
    fmt: str  # "parquet", "csv" or "json"

    @property
    def pattern(self) -> str:
        """The path as DuckDB must be given it: its glob characters escaped."""
        return glob_escape(self.path)


def glob_escape(path: str) -> str:
    """Escape ``*``, ``?`` and ``[`` so DuckDB reads the file of that very name.

    DuckDB expands globs in every path it reads; ``[*]`` matches a literal
    ``*`` (the same escape as Python's :func:`glob.escape`).
    """
    return re.sub(r"([*?\[])", r"[\1]", path)


def expand_paths(
    specs: Sequence[str],
    *,
    stdin: IO[bytes] | None = None,
    context: RunContext | None = None,
) -> list[EventFile]:
    """Resolve ``--events`` values (files, globs, directories, ``-``) to event files.

    A value that names nothing is an error naming it, never an empty report.
    An existing path is taken literally, even when its name holds glob
    characters; only a value that names no file is expanded as a glob. A file
    named twice (directly, or by overlapping globs) is read once.

    The copy of a stream and the link to an oddly named file are temporary
    files of ``context``, removed when it closes; without a context, such a
    value is refused (nothing would remove them).
    """
    files: list[EventFile] = []
    seen: set[str] = set()
    for spec in specs:
        try:
            found = _expand(spec, stdin, context)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise DataError(f"{spec}: cannot read it: {reason}") from exc
        for file in found:
            key = file.path if file.display == STDIN_DISPLAY else os.path.realpath(file.path)
            if key not in seen:
                seen.add(key)
                files.append(file)
    return files


def _expand(spec: str, stdin: IO[bytes] | None, context: RunContext | None) -> list[EventFile]:
    if spec == STDIN:
        stream = stdin if stdin is not None else sys.stdin.buffer
        return [_spool(stream, display=STDIN_DISPLAY, name="stdin.csv", context=context)]
    if not spec.strip():  # Path("") is the current directory: never read it by accident
        raise UsageError(
            f"invalid event path {spec!r}: give a file, a glob, a directory or - for stdin"
        )
    path = Path(spec).expanduser()
    if path.is_dir():
        found = sorted(p for p in _walk(path) if _is_event_file(p))
        if not found:
            raise DataError(
                f"{spec}: is a directory that holds no event files "
                f"({', '.join(FOLDER_SUFFIXES)}); name the files instead"
            )
        return [_event_file(p, context=context) for p in found]
    if path.exists() and not path.is_file():  # a FIFO, <(...), a device: a stream
        with path.open("rb") as stream:
            return [_spool(stream, display=spec, name=path.name, context=context)]
    if path.exists():
        return [_event_file(path, context=context)]
    if glob.has_magic(spec):
        matched = sorted(_glob(os.path.expanduser(spec)))
        if not matched:
            raise DataError(
                f"{spec}: the pattern matches no file; check the path (quote the "
                "pattern so the shell does not expand it)"
            )
        return [_event_file(p, context=context) for p in matched]
    raise DataError(f"{spec}: no such file or directory")


def _walk(root: Path) -> Iterator[Path]:
    """Every file under ``root``, following links to folders but each folder once.

    A folder is known by its device and inode, so links that point back up
    the tree (which make ``rglob`` and ``glob('**')`` run forever) are
    followed once and no more.
    """
    seen: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        try:
            info = os.stat(folder)
        except OSError:
            dirs[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs.sort()
        for name in files:
            candidate = Path(folder) / name
            if candidate.is_file():
                yield candidate


def _glob(pattern: str) -> list[Path]:
    """The files ``pattern`` matches; ``**`` walks folders as :func:`_walk` does."""
    if "**" not in pattern:
        return [Path(p) for p in glob.glob(pattern) if Path(p).is_file()]
    parts = Path(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    root = Path(*parts[:fixed]) if fixed else Path(".")
    matcher = re.compile(_glob_regex(parts[fixed:]))
    found = []
    for file in _walk(root):
        relative = file.relative_to(root).as_posix()
        if matcher.fullmatch(relative):
            found.append(root / relative if fixed else Path(relative))
    return found


def _glob_regex(parts: Sequence[str]) -> str:
    """A regular expression for glob path components; ``**`` spans folders."""
    pieces = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            pieces.append(".*" if last else "(?:.*/)?")
            continue
        pieces.append(_component_regex(part) + ("" if last else "/"))
    return "".join(pieces)


def _component_regex(part: str) -> str:
    """``*``, ``?`` and ``[...]`` of one path component, never crossing a ``/``."""
    out, i = [], 0
    while i < len(part):
        char = part[i]
        close = part.find("]", i + 2) if char == "[" else -1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif close > 0:
            inside = part[i + 1 : close]
            negate = inside.startswith("!")
            inside = re.sub(r"([\\^\]])", r"\\\1", inside[1:] if negate else inside)
            out.append(f"[{'^' if negate else ''}{inside}]")
            i = close
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _is_event_file(path: Path) -> bool:
    return path.name.lower().endswith(FOLDER_SUFFIXES)


def _event_file(path: Path, display: str | None = None, *, context: RunContext | None) -> EventFile:
    shown = display or str(path)
    if not os.access(path, os.R_OK):
        raise DataError(f"{shown}: permission denied; make the file readable (chmod +r)")
    with path.open("rb") as handle:
        head = handle.read(4)
        blank = _only_blanks(head, handle)
    if blank:
        raise DataError(
            f"{shown}: the file is empty; an event file needs at least a header row "
            "(time, user_id, category)"
        )
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        fmt = "parquet"
    elif name.endswith(JSON_SUFFIXES):
        fmt = "json"
    elif name.endswith(EVENT_SUFFIXES):
        fmt = "csv"
    else:  # no known suffix: tell by the magic bytes
        fmt = "parquet" if head == b"PAR1" else "csv"
    if fmt == "csv" and head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(
            f"{shown}: the file is UTF-16 text; convert it to UTF-8 "
            "(iconv -f utf-16 -t utf-8 FILE > FILE.utf8.csv)"
        )
    return EventFile(path=_readable_name(path, context), display=shown, fmt=fmt)


#: What a file of no content may hold: blank lines (and a UTF-8 byte order mark first).
_BLANKS = b" \t\r\n"
_UTF8_BOM = b"\xef\xbb\xbf"


def _only_blanks(head: bytes, handle: IO[bytes]) -> bool:
    """Whether a file whose first bytes are ``head`` holds nothing but blank lines.

    Such a file has no header row, like an empty one (DuckDB's CSV reader
    finds no column in it). Read on from ``handle`` only while the bytes are
    blank: an event file stops at its first byte.
    """
    chunk = head[len(_UTF8_BOM) :] if head.startswith(_UTF8_BOM) else head
    while chunk:
        if chunk.strip(_BLANKS):
            return False
        chunk = handle.read(1 << 16)
    return True


def _readable_name(path: Path, context: RunContext | None) -> str:
    """A name DuckDB reads as this very file.

    DuckDB globs every path, and its glob takes a backslash for a folder
    separator, so a name with both (``back\\slash[1].csv``) matches nothing
    however it is escaped. Such a file is read through a link of a plain name
    in a private temporary folder, removed when the run ends.
    """
    text = str(path)
    if "\\" not in text or not glob.has_magic(text):
        return text
    owner = _owner(context, text)
    folder = owner.new_temp_folder("activity-report-link-")
    suffix = "".join(path.suffixes[-2:]) if path.name.lower().endswith(".gz") else path.suffix
    link = owner.add_temp(os.path.join(folder, "events" + re.sub(r"[*?\[\]\\]", "_", suffix)))
    os.symlink(os.path.abspath(text), link)
    return link


def _owner(context: RunContext | None, shown: str) -> RunContext:
    """The run that removes a temporary file; reading ``shown`` without one is a bug."""
    if context is None:
        raise TypeError(f"{shown}: reading it makes a temporary file: pass expand_paths a context")
    return context


def _spool(stream: IO[bytes], *, display: str, name: str, context: RunContext | None) -> EventFile:
    """Copy a stream (stdin, a FIFO, a process substitution) to a temporary file.

    DuckDB reads a file more than once, and a stream can be read only once.
    The copy keeps ``name``'s event suffix, else the format is told by the
    magic bytes.
    """
    lower = name.lower()
    suffix = next(
        (s for s in sorted(EVENT_SUFFIXES, key=len, reverse=True) if lower.endswith(s)), ""
    )
    owner = _owner(context, display)
    fd, name = owner.new_temp_file("activity-report-stdin-", suffix)
    with open(fd, "wb") as handle:
        shutil.copyfileobj(stream, handle)
    file = _event_file(Path(name), display=display, context=owner)
    if file.fmt == "csv" and _starts_with_json_object(Path(name)):
        what = "stdin" if display == STDIN_DISPLAY else "a stream without a .jsonl name"
        raise DataError(
            f"{display}: its first line is a JSON object, but {what} is read as CSV; "
            "save JSON Lines to a .jsonl file and pass its path"
        )
    return file


def _starts_with_json_object(path: Path) -> bool:
    """Whether the first line of a file is a JSON object (``{...}``), as in JSON Lines.

    No CSV header looks so; read as CSV, such a line would be one column named
    after the whole object.
    """
    with path.open("rb") as handle:
        line = handle.readline(1 << 20)
    line = line.removeprefix(_UTF8_BOM).strip()
    return line.startswith(b"{") and line.endswith(b"}")
