"""A griffe extension (mkdocs.yml loads it): docstrings as the site renders them.

The project's docstrings are Google style with an ``Example:`` section of ``>>>`` lines,
which the doctests run (tests/docs/test_doctests.py), or of plain code. griffe reads
``Example:`` as an admonition whose body is Markdown, where ``>>>`` is three nested
blockquotes and plain code is one paragraph; so every run of ``>>>`` lines (with its
``...`` lines and output) is fenced as ``pycon`` here, an example of plain code as
``python``, and a Sphinx role (``:class:`~orch.Block```) becomes code (``Block``).
Nothing in the source changes: the doctests and ``help()`` read the same text.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|exc|data|obj|const|ref):`(~?)([^`]+)`")
DOCTEST_FLAG = re.compile(r"\s*#\s*doctest:\s*[+-]\w+(?:\s*,\s*[+-]\w+)*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
EXAMPLE_HEADER = re.compile(r"^(\s*)Examples?:\s*$")


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2).strip()
    if target.startswith("!"):
        target = target[1:]
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def fence_examples(text: str) -> str:
    """``text`` with each run of ``>>>`` lines fenced as a ``pycon`` code block.

    A run starts at a ``>>>`` line and ends at a blank line or a line indented less than
    its prompt (doctest's own rule); ``# doctest:`` flags are left out of what is shown.
    """
    out: list[str] = []
    lines = text.splitlines()
    inside_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if FENCE.match(line):
            inside_fence = not inside_fence
        stripped = line.lstrip()
        if inside_fence or not stripped.startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(stripped)]
        out.append(f"{indent}```pycon")
        while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
            out.append(DOCTEST_FLAG.sub("", lines[i]))
            i += 1
        out.append(f"{indent}```")
    return "\n".join(out)


def fence_example_sections(text: str) -> str:
    """``text`` with the body of each ``Example:`` section that is plain code (no ``>>>``,
    no fence) fenced as ``python``: griffe renders it as Markdown, so as one paragraph."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        out.append(lines[i])
        header = EXAMPLE_HEADER.match(lines[i])
        i += 1
        if not header:
            continue
        depth = len(header.group(1))
        body: list[str] = []
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > depth
        ):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            i -= 1
            body.pop()
        code = [line for line in body if line.strip()]
        if not code or any(">>>" in line or FENCE.match(line) for line in code):
            out.extend(body)
            continue
        indent = min((line[: len(line) - len(line.lstrip())] for line in code), key=len)
        out += [f"{indent}```python", *body, f"{indent}```"]
    return "\n".join(out)


def render_docstring(text: str) -> str:
    """A docstring's text as the site shows it: examples fenced, Sphinx roles as code."""
    return fence_examples(fence_example_sections(ROLE.sub(_role, text)))


class OrchDocstrings(griffe.Extension):
    """Rewrites each loaded object's docstring for rendering (see the module docstring)."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = render_docstring(obj.docstring.value)
