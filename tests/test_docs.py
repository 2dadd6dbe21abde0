"""The documentation works in a fresh clone.

- Every relative link of README.md and docs/**/*.md (``[text](target)``, images and reference
  definitions included) resolves to a file or folder tracked by git; a link that leaves the
  repository (``../`` above its root) fails. Web and mail links and pure ``#anchors`` are not
  checked; a ``#fragment`` is stripped.
- Every ``pipelines/…py``, ``warehouse/…py`` or ``dashboards/…py`` path written in backticks
  (inline code or a fenced block) exists, and every dotted ``pipelines.…`` name in backticks
  names a module (and, when it goes on, a name that module defines): the tree was reorganised
  once, and a stale path in a doc is easy to miss.
"""

from __future__ import annotations

import posixpath
import re
import subprocess
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]

FENCE = re.compile(r"^ {0,3}(```+|~~~+)[^\n]*\n.*?^ {0,3}\1[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
# [text](target) and ![alt](target): one level of nested brackets in the text; the target may be
# <bracketed> and may carry a "title".
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)"
)
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>\n]*>|\S+)", re.M)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
WEB_OR_MAIL = ("http:", "https:", "mailto:")
CODE_PATH = re.compile(r"(?<![\w./-])(?:pipelines|warehouse|dashboards)/[\w./-]*?\.py\b")
DOTTED = re.compile(r"(?<![\w./-])pipelines(?:\.\w+)+")


@cache
def tracked() -> tuple[frozenset[str], frozenset[str]]:
    """Files tracked by git (the index: what a commit would hold) and every folder above them."""
    try:
        done = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    files = frozenset(f for f in done.stdout.split("\0") if f)
    folders = {""}
    for f in files:
        parts = f.split("/")[:-1]
        folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return files, frozenset(folders)


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def doc_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def without_code(text: str) -> str:
    """The text with fenced blocks and inline code blanked (a link in code is not a link)."""

    def blank(match: re.Match[str]) -> str:  # keeps the line numbers
        return re.sub(r"[^\n]", " ", match.group(0))

    return INLINE_CODE.sub(blank, FENCE.sub(blank, text))


def code_spans(text: str) -> list[str]:
    """The contents of every fenced block and every inline code span."""
    fenced = [m.group(0) for m in FENCE.finditer(text)]
    rest = FENCE.sub("", text)
    return fenced + [m.group(2) for m in INLINE_CODE.finditer(rest)]


def links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every inline link, image and reference definition outside code."""
    prose = without_code(text)
    found = [m for pattern in (INLINE_LINK, REFERENCE_DEF) for m in pattern.finditer(prose)]
    return [
        (prose.count("\n", 0, m.start()) + 1, m.group(1).strip("<>").strip())
        for m in sorted(found, key=lambda m: m.start())
    ]


def link_problem(doc: Path, target: str) -> str | None:
    """Why a link of `doc` does not work in a fresh clone, or None when it does."""
    if target.lower().startswith(WEB_OR_MAIL) or target.startswith("#"):
        return None
    if SCHEME.match(target):
        return "not a web or mail link, and not a path in the repository"
    path = unquote(target.split("#", 1)[0].split("?", 1)[0])
    if not path:
        return "empty link"
    base = "" if path.startswith("/") else posixpath.dirname(doc_id(doc))
    resolved = posixpath.normpath(posixpath.join(base, path.lstrip("/")))
    if resolved == ".." or resolved.startswith("../"):
        return "points outside the repository"
    resolved = "" if resolved == "." else resolved
    files, folders = tracked()
    if resolved not in files and resolved not in folders:
        return f"{resolved} is not tracked in the repository"
    return None


def module_problem(dotted: str) -> str | None:
    """Why `pipelines.a.b.name` names no module (or no name in its module), or None."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:n])
        module = base.with_suffix(".py") if not (base / "__init__.py").exists() else None
        source = base / "__init__.py" if module is None else module
        if source.exists():
            break
    else:
        return "no such module"
    rest = parts[n:]
    if not rest:
        return None
    if source.name == "__init__.py" and (base / rest[0]).exists():
        return None  # a folder of the package (data files)
    name = re.escape(rest[0])
    defined = re.compile(
        rf"^(?:(?:async\s+)?def|class)\s+{name}\b|^{name}\s*[:=]|^(?:from\s+\S+\s+)?import\b.*\b{name}\b",
        re.M,
    )
    if not defined.search(source.read_text(encoding="utf-8")):
        return f"{'.'.join(parts[:n])} defines no {rest[0]}"
    return None


@pytest.mark.parametrize("doc", markdown_files(), ids=doc_id)
def test_every_relative_link_resolves_in_a_fresh_clone(doc):
    text = doc.read_text(encoding="utf-8")
    broken = [
        f"{doc_id(doc)}:{line}: ({target}) {problem}"
        for line, target in links(text)
        if (problem := link_problem(doc, target))
    ]
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("doc", markdown_files(), ids=doc_id)
def test_every_code_path_in_backticks_exists(doc):
    spans = code_spans(doc.read_text(encoding="utf-8"))
    paths = {p for span in spans for p in CODE_PATH.findall(span)}
    missing = sorted(p for p in paths if not (ROOT / p).is_file())
    names = {d.rstrip(".") for span in spans for d in DOTTED.findall(span)}
    stale = sorted(f"{d}: {problem}" for d in names if (problem := module_problem(d)))
    assert not missing + stale, f"{doc_id(doc)}: " + "; ".join(missing + stale)


def test_the_link_check_catches_what_a_fresh_clone_lacks():
    readme, design = ROOT / "README.md", ROOT / "docs" / "design.md"
    assert link_problem(readme, "docs/design.md#the-layers") is None
    assert link_problem(design, "../pipelines/core/spec.py") is None
    assert link_problem(design, "spec/debrief-export.md") is None
    assert link_problem(readme, "docs/") is None
    assert link_problem(readme, "https://docs.astral.sh/uv/") is None
    assert link_problem(readme, "#layout") is None
    assert "outside" in link_problem(readme, "../shared/spec/debrief-export-v1.md")
    assert "outside" in link_problem(design, "../../x.md")
    assert "not tracked" in link_problem(readme, "docs/nowhere.md")
    assert "not tracked" in link_problem(readme, "data/warehouse.duckdb")  # ignored by git
    text = '[a](x.md) `[b](y.md)` ![c [d]](img/e.png "t")\n```\n[f](g.md)\n```\n[h]: <i j.md>\n'
    assert [t for _, t in links(text)] == ["x.md", "img/e.png", "i j.md"]


def test_the_code_path_check_catches_stale_names():
    assert module_problem("pipelines.privacy.scrub") is None
    assert module_problem("pipelines.insights.rounds.INDUSTRY_SYNONYMS") is None
    assert module_problem("pipelines.landing.records") is None
    assert module_problem("pipelines.ingest") is None
    assert module_problem("pipelines.privacy.data") is None
    assert module_problem("pipelines.config") is not None
    assert module_problem("pipelines.insights.rounds.NO_SUCH_NAME") is not None
    text = "run `python -m pipelines.privacy.scrub` and\n```\npipelines/bench.py\n```\n"
    spans = code_spans(text)
    assert any("pipelines/bench.py" in s for s in spans)
    assert any("pipelines.privacy.scrub" in s for s in spans)
