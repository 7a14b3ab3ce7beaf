"""Every relative link of the repository's Markdown files points at a file of the repository.

Inline links and images (`[text](target)`, `![alt](target)`), reference definitions (`[ref]: target`) and HTML
`href`/`src` attributes are checked; fenced code blocks and code spans are not Markdown links and are skipped.
Anchors (`#...`) and `http(s):`/`mailto:` links are ignored; a target's own `#fragment` is dropped. A relative
target is resolved from the file's folder (a leading `/` from the repository's root, as GitHub does), must stay
inside the repository and name a tracked file, or a folder holding tracked files.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

from farmacy.settings import ROOT

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# `](target)` or `](target "title")`; the target may hold one level of balanced parentheses, or be `<...>`.
_INLINE = re.compile(r"\]\(\s*(<[^>\n]*>|(?:[^()\s]|\([^()\s]*\))+)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?\s*\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>\n]*>|\S+)")
_HTML = re.compile(r"""<(?:a|img|source)\b[^>]*?\b(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_IGNORED_SCHEMES = ("http:", "https:", "mailto:")


def _tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the repository's files are what `git ls-files` lists")
    result = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [name for name in result.stdout.split("\0") if name]


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every link in a Markdown text, outside code blocks and code spans."""
    found: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        line = _CODE_SPAN.sub("", line)
        targets = [m.group(1) for m in _INLINE.finditer(line)]
        targets += [m.group(1) for m in _REFERENCE.finditer(line)]
        targets += [m.group(1) or m.group(2) for m in _HTML.finditer(line)]
        for target in targets:
            if target.startswith("<") and target.endswith(">"):
                target = target[1:-1]
            found.append((number, target.strip()))
    return found


def problem(markdown: Path, target: str, root: Path, tracked: set[str], folders: set[str]) -> str | None:
    """Why a link's target is broken, or None when it is fine or not checked (anchors, web and mail links)."""
    if not target or target.startswith("#") or target.lower().startswith(_IGNORED_SCHEMES):
        return None
    if _SCHEME.match(target):
        return "not a relative link, nor http(s) or mailto"
    path = unquote(target.split("#", 1)[0].split("?", 1)[0])
    if not path:
        return None
    base = root if path.startswith("/") else markdown.parent
    resolved = (base / path.lstrip("/")).resolve()
    try:
        relative = resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return "leaves the repository"
    if relative in tracked or relative in folders:
        return None
    if resolved.exists():
        return "exists here but is not a file of the repository (git ls-files)"
    return "no such file"


def test_link_extraction_skips_code_and_reads_every_form() -> None:
    text = "\n".join(
        [
            "See [the notes](docs/notes.md#why) and ![a picture](<docs/a b.png> 'title').",
            "`[not a link](nowhere.md)` and [web](https://example.com) [anchor](#layout)",
            "```bash",
            "echo [not](a-link.md)",
            "```",
            "[ref]: deploy/k8s/",
            '<img src="docs/x.png"> [with (parens)](file_(1).md)',
        ]
    )
    assert links(text) == [
        (1, "docs/notes.md#why"),
        (1, "docs/a b.png"),
        (2, "https://example.com"),
        (2, "#layout"),
        (6, "deploy/k8s/"),
        (7, "file_(1).md"),
        (7, "docs/x.png"),
    ]


def test_a_target_outside_the_repository_or_missing_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    markdown = root / "docs" / "guide.md"
    tracked = {"docs/guide.md", "README.md", "deploy/k8s/base/kustomization.yaml"}
    folders = {"docs", "deploy", "deploy/k8s", "deploy/k8s/base"}

    def check(target: str) -> str | None:
        return problem(markdown, target, root, tracked, folders)

    assert check("../README.md") is None
    assert check("/README.md#quick-start") is None
    assert check("../deploy/k8s/") is None
    assert check("guide.md") is None
    assert check("#section") is None
    assert check("mailto:ops@example.com") is None
    assert check("../../outside.md") == "leaves the repository"
    assert check("missing.md") == "no such file"
    assert check("file:///etc/passwd") == "not a relative link, nor http(s) or mailto"


def test_every_relative_markdown_link_points_at_a_file_of_the_repository() -> None:
    files = _tracked_files()
    tracked = set(files)
    folders = {parent.as_posix() for name in files for parent in Path(name).parents if parent != Path(".")}
    broken = []
    for name in sorted(f for f in files if f.endswith(".md")):
        markdown = ROOT / name
        if not markdown.is_file():
            continue
        for number, target in links(markdown.read_text(encoding="utf-8")):
            reason = problem(markdown, target, ROOT, tracked, folders)
            if reason is not None:
                broken.append(f"{name}:{number}: ({target}) {reason}")
    assert not broken, "broken Markdown links:\n" + "\n".join(broken)
