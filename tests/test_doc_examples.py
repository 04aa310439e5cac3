"""The examples of the README and of docs/ run, and print what the page shows, byte for byte.

Every ``console`` block is read as a transcript: ``$ COMMAND`` lines, each
followed by its output (stdout and stderr as a terminal shows them, one after
the other). A block runs when all its commands are local and repeatable
(the tool on the sample data, ``printf``, ``cat``, ``jq``); one that installs,
serves, benchmarks or needs Spark is left to the tests of its own subject.
A line ``...`` (or ``| …``) in an output stands for any number of lines.
The documents share one store, README first, so that a page may report from
the store the README filled; each runs in a folder of its own. A ``cat FILE``
of a file a page shows (not a shipped one) writes the file from its output.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^( *)```console\n(.*?)^\1```$", re.MULTILINE | re.DOTALL)
#: How a runnable command may begin; a block with any other command is not run.
RUNNABLE = re.compile(
    r"activity-report(?! (serve|tokens))|main=\(|export ACTIVITY_REPORT_(DB|PSEUDONYM_KEY)="
    r"|printf |cat sample_data/|cat [\w.-]+$"
)
#: ``cat FILE`` of a file the page shows, not a shipped one: the test writes it from its output.
SHOWN_FILE = re.compile(r"cat ([\w.-]+)$")
NOT_HERE = re.compile(
    r"--engine spark|\bserve\b|\bcurl\b|\bpython|\bpip\b|\bsudo\b"
    r"|--coder|coder-demo"  # Coder's database: tests/test_coder.py runs those on a real one
    # A reader's own export or store, shown but not shipped: their own pages' tests run them.
    r"|--events events\.csv|--db events\.duckdb"
)
ELLIPSIS = {"...", "| …", "…"}
SHOWN_STORE = "/tmp/activity.duckdb"


@dataclass
class Example:
    document: str
    command: str
    output: list[str]


def runnable(example: Example) -> bool:
    """Whether an example runs here: local and repeatable (see the module's docstring)."""
    return RUNNABLE.match(example.command) is not None and not NOT_HERE.search(example.command)


def examples(
    document: Path, keep: Callable[[Example], bool] = runnable
) -> tuple[list[Example], int]:
    """The examples of a document whose block ``keep`` takes whole, and how many blocks
    were left out."""
    found: list[Example] = []
    skipped = 0
    for indent, body in BLOCK.findall(document.read_text(encoding="utf-8")):
        lines = [line.removeprefix(indent) for line in body.splitlines()]
        block: list[Example] = []
        for line in lines:
            if block and not block[-1].output and block[-1].command.endswith("\\"):
                block[-1].command = block[-1].command[:-1].rstrip() + " " + line.strip()
            elif line.startswith("$ "):
                block.append(Example(document.name, line[2:], []))
            elif line.startswith("# "):
                continue  # a comment between commands
            elif block:
                block[-1].output.append(line)
        if block and all(keep(e) for e in block):
            found += block
        else:
            skipped += 1
    return found, skipped


def matches(expected: list[str], actual: str) -> bool:
    """Whether ``actual`` is the output shown; blank lines that end it may separate it
    from the next command."""
    shown = list(expected)
    separators = 0
    while shown and not shown[-1].strip():
        shown.pop()
        separators += 1
    pattern = "".join(
        r"(?:[^\n]*\n)*?" if line.strip() in ELLIPSIS else re.escape(line) + r"\n" for line in shown
    )
    return re.fullmatch(pattern + r"\n?" * separators, actual) is not None


@pytest.mark.slow  # some forty runs of the CLI, each in a shell
def test_every_runnable_example_prints_what_its_page_shows(tmp_path: Path) -> None:
    store = str(tmp_path / "activity.duckdb")
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ACTIVITY_REPORT_") and k not in {"COLUMNS", "LINES"}
    }
    environ |= {"ACTIVITY_REPORT_DB": store, "XDG_DATA_HOME": str(tmp_path / "data")}
    ran, skipped, wrong = 0, 0, []
    for document in DOCUMENTS:
        found, left_out = examples(document)
        skipped += left_out
        preamble: list[str] = []
        # A folder of its own: a page's files (a config file) are not another page's.
        here = tmp_path / document.stem
        here.mkdir()
        (here / "sample_data").symlink_to(ROOT / "sample_data")
        for example in found:
            command = example.command.replace(SHOWN_STORE, store)
            if command.startswith(("main=(", "export ")):
                preamble.append(command)
                continue
            shown = SHOWN_FILE.fullmatch(command)
            if shown:  # the page's own file, as it shows it
                text = "\n".join(example.output).rstrip("\n") + "\n"
                (here / shown.group(1)).write_text(text, encoding="utf-8")
                continue
            script = "\n".join([*preamble, f"{{ {command} ; }} 2>&1"])
            run = subprocess.run(
                ["bash", "-c", script],
                capture_output=True, text=True, cwd=here, env=environ, timeout=300,
                check=False,
            )  # fmt: skip
            expected = [line.replace(SHOWN_STORE, store) for line in example.output]
            ran += 1
            if not matches(expected, run.stdout):
                wrong.append((example.document, example.command, run.stdout, run.stderr))
    assert not wrong, "\n\n".join(f"{doc}: $ {cmd}\n{out}{err}" for doc, cmd, out, err in wrong)
    assert ran >= 30, ran  # the pages' examples really ran
    # Left out: installing, serving, Spark, benchmarks, Coder's database and a reader's own
    # export or store; a new page's examples run unless they are of those kinds.
    assert skipped <= 45, skipped
