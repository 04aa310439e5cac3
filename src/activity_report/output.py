"""Where ``-o`` writes: a file replaced atomically, never a device or a link.

================================  ===============================================
``-o`` names                      what happens
================================  ===============================================
``-``                             the report goes to stdout
a new path or a regular file      a temporary file beside it, then a rename: a
                                  reader never sees half a report
a symbolic link                   written through to the link's target, the
                                  same way (the temporary file beside the target);
                                  the link stays a link
a FIFO, a terminal, a device      written to directly (``/dev/null`` stays
                                  ``/dev/null``)
a directory                       a usage error
================================  ===============================================
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from .errors import DataError, UsageError
from .resources import NEW_FILE

STDOUT = "-"


def is_stdout(path: Path | str | None) -> bool:
    """Whether ``-o`` means stdout: not given, or ``-``."""
    return path is None or str(path) == STDOUT


def check_target(path: Path) -> None:
    """Fail before the work, not after it, when ``-o`` cannot be written."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # a loop of links, a folder that is a file, ...
        raise UsageError(f"-o {path}: cannot use it: {exc.strerror or exc}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise UsageError(f"-o {path}: is a directory; give a file name")
    target = _final_path(path)
    if not target.parent.is_dir():
        raise UsageError(f"-o {path}: the folder {target.parent} does not exist; create it first")


@contextlib.contextmanager
def open_output(path: Path) -> Iterator[TextIO]:
    """A text stream onto ``-o`` PATH, written as the module's table says."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise DataError(f"-o {path}: cannot write it: {exc.strerror or exc}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise UsageError(f"-o {path}: is a directory; give a file name")
    if mode is not None and not stat.S_ISREG(mode):
        with _direct(path) as handle:
            yield handle
        return
    with _atomic(_final_path(path), shown=path) as handle:
        yield handle


def _final_path(path: Path) -> Path:
    """The file a chain of links ends at (it may not exist yet), else ``path``."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


@contextlib.contextmanager
def _direct(path: Path) -> Iterator[TextIO]:
    """Write straight into a FIFO or a device: it cannot be replaced, nor should be."""
    try:
        handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise DataError(f"-o {path}: cannot write it: {exc.strerror or exc}") from None
    try:
        with handle:
            yield handle
            handle.flush()
    except OSError as exc:
        raise DataError(f"-o {path}: cannot write it: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _atomic(path: Path, *, shown: Path) -> Iterator[TextIO]:
    """Write FILE via a temporary file in the same folder and a rename.

    A reader, or a cron job that dies half way, never sees a partial report:
    on any error, an interrupt or a termination the temporary file is removed
    and FILE is left as it was. The new file keeps an existing FILE's
    permissions, else gets the usual ones (0666 less the umask).
    """
    folder = path.parent
    # Named before it is made, and removed on any exception from then on but
    # the failure to make it: a signal as it is made leaves no file behind.
    tmp = os.path.join(folder, f".{path.name}.{secrets.token_hex(8)}.tmp")
    made_nothing = False
    try:
        try:
            fd = os.open(tmp, NEW_FILE, 0o600)
        except OSError as exc:
            made_nothing = True
            raise DataError(
                f"-o {shown}: cannot create a file in {folder}: {exc.strerror}"
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException as exc:
        if not made_nothing:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise DataError(f"-o {shown}: cannot write it: {exc.strerror or exc}") from None
        raise


def _file_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
