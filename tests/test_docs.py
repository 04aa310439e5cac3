"""The docs: docs/semantics.md and the README link each other, and nothing cites what users lack."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

from activity_report.model import UserInfo
from activity_report.render import Format, renderer

from .conftest import run_cli
from .test_render import ANN, sample

ROOT = Path(__file__).resolve().parent.parent
SEMANTICS = ROOT / "docs" / "semantics.md"
CITATION = re.compile(r"\bSPEC\b|§|(?i:\bissue #?[0-9]+|\bthe spec\b)")
LINK = re.compile(r"\]\(([^)\s]+)\)")
POINTER = re.compile(r'docs/semantics\.md(?:,| \()\s*((?:"[^"\n]+",?\s*)+)')


def slug(heading: str) -> str:
    """A heading's anchor, as GitHub makes it."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def headings(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]


def test_slug_is_githubs() -> None:
    assert slug("Input: the event log") == "input-the-event-log"
    assert slug("Writing to a file: `-o FILE`") == "writing-to-a-file--o-file"


def test_every_local_link_of_the_readme_and_the_docs_resolves() -> None:
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    checked = 0
    for document in documents:
        for target in LINK.findall(document.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            file, _, anchor = target.partition("#")
            linked = (document.parent / file).resolve() if file else document
            assert linked.exists(), (document.name, target)
            if anchor:
                anchors = {slug(h) for h in headings(linked)}
                assert anchor in anchors, (document.name, target)
            checked += 1
    assert checked > 0


def test_the_readme_and_the_semantics_page_link_each_other() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    semantics = SEMANTICS.read_text(encoding="utf-8")
    assert "](docs/semantics.md)" in readme
    assert "](../README.md" in semantics


def test_code_pointers_name_sections_of_the_semantics_page() -> None:
    sections = set(headings(SEMANTICS))
    named = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        for group in POINTER.findall(path.read_text(encoding="utf-8")):
            for section in re.findall(r'"([^"\n]+)"', group):
                assert section in sections, (path.name, section)
                named.append(section)
    assert {"Counts and active time", "The JSON", "The range"} <= set(named)


def test_the_json_example_has_the_shape_of_a_real_report() -> None:
    """Every key of the page's example is where the JSON writer puts it, and no other."""
    block = re.search(r"```json\n(.*?)```", SEMANTICS.read_text(encoding="utf-8"), re.DOTALL)
    assert block is not None
    example = json.loads(block.group(1))
    bob = UserInfo("bob", "Bob", "bob12", ("site-member",), "ab" * 32)
    real = json.loads(renderer(Format.json)(sample({"ann": ANN, "bob": bob})))

    def shape(value: object) -> object:
        if isinstance(value, dict):
            if all(isinstance(v, dict) for v in value.values()) and value:  # the users map
                return {"<id>": shape(next(iter(value.values())))}
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(value[0])] if value else []
        return type(value).__name__

    assert shape(example) == shape(real)


def test_docs_and_code_cite_nothing_a_user_does_not_have() -> None:
    files = [*sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "src").rglob("*.py"))]
    for path in files:
        found = CITATION.search(path.read_text(encoding="utf-8"))
        assert found is None, (str(path.relative_to(ROOT)), found)


INSTALL = re.compile(r"pip install ((?:-e )?(?:'[^']+'|[^\s`'\")]+))")


def test_every_install_hint_works_from_a_checkout() -> None:
    """The tool is installed from its checkout, so a hint names the checkout or a real package."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    requirements = {r for reqs in extras.values() for r in reqs} | set(project["dependencies"])
    texts = [p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *ROOT.glob("docs/*.md")]]
    texts += [p.read_text(encoding="utf-8") for p in (ROOT / "src").rglob("*.py")]
    texts.append(run_cli("report", "--help").stdout)
    hints = [shlex.split(h)[-1] for text in texts for h in INSTALL.findall(" ".join(text.split()))]
    assert "pyspark[connect]>=4,<5" in hints
    assert ".[spark]" in hints
    assert hints.count("pyspark[connect]>=4,<5") >= 3  # the error, --help and the docs
    for hint in hints:
        checkout = re.fullmatch(r"\.(?:\[([\w,]+)\])?", hint)
        if checkout:
            assert set(filter(None, (checkout.group(1) or "").split(","))) <= set(extras), hint
        else:
            assert hint in requirements, hint
