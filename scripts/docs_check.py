"""The rendered docs, as a browser shows them (run by scripts/docs-check).

Builds the site (mkdocs, strict) into a temporary folder, opens its pages in headless
Chromium (each page loaded once, in a probe page that measures its layout and hands back
its DOM) and checks what a reader sees:

- every page shows its docstring examples as code blocks
  (``<pre><code>``; the reference page's with the ``>>>`` prompt), not as nested
  blockquotes or a paragraph;
- no Sphinx role (``:class:`` ...) shows as literal text;
- nothing extends past any page's right edge at a 760 px wide window (long lines wrap);
- a screenshot of the API reference page is written for a person to look at.

Exit 0 when all hold; otherwise one line per problem and exit 1.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("ORCH_CHROMIUM", "/usr/bin/chromium")
ROLES = (":class:", ":func:", ":meth:", ":mod:", ":exc:", ":attr:", ":data:")
WIDTH = 760  # px: a narrow laptop window, where long lines are cut first

# A page is loaded in an iframe by this probe; its script measures the laid-out page and
# writes the verdict into the probe's own DOM, which --dump-dom prints.
PROBE = """<!doctype html><html><body>
<iframe id="f" style="width:%(width)dpx;height:900px" src="%(src)s"></iframe>
<pre id="verdict">no verdict: the page did not load</pre>
<pre id="dom"></pre>
<script>
document.getElementById('f').addEventListener('load', () => {
  const d = document.getElementById('f').contentDocument;
  const art = d.querySelector('article');
  const right = art.getBoundingClientRect().right;
  const past = [];
  for (const el of art.querySelectorAll('*')) {
    if (el.children.length) continue;
    const r = el.getBoundingClientRect();
    // 4 px: an inline code's own padding, not text.
    if (r.width > 0 && r.right > right + 4) {
      past.push(Math.round(r.right - right) + 'px past the edge: ' + el.tagName + ' '
        + (el.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 70));
    }
  }
  document.getElementById('verdict').textContent = 'PAST ' + past.length + '\\n' + past.join('\\n');
  document.getElementById('dom').textContent = d.documentElement.outerHTML;
});
</script></body></html>
"""


def chromium(profile: Path, *args: str) -> str:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}",
    ]  # fmt: skip
    result = subprocess.run(
        [CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        sys.exit(f"chromium failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


def text_of(dom: str) -> str:
    """The visible text of a DOM dump (scripts and styles dropped)."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", dom))


def reference_pages(site: Path) -> list[Path]:
    """Pages that hold an API reference (mkdocstrings' ``doc-object`` blocks)."""
    return [
        p for p in sorted(site.glob("**/index.html")) if 'class="doc doc-object' in p.read_text()
    ]


def check_page(page: Path, site: Path, profile: Path, probe_dir: Path) -> list[str]:
    """One browser load of ``page`` (in the probe): its layout verdict and its DOM."""
    name = "home" if page.parent == site else page.parent.relative_to(site).as_posix()
    problems: list[str] = []
    probe = probe_dir / f"probe-{name.replace('/', '-')}.html"
    probe.write_text(PROBE % {"width": WIDTH, "src": page.as_uri()})
    dumped = chromium(
        profile, "--allow-file-access-from-files", "--virtual-time-budget=10000",
        "--dump-dom", probe.as_uri(),
    )  # fmt: skip
    found = re.search(r'<pre id="verdict">(.*?)</pre>', dumped, flags=re.S)
    lines = html.unescape(found.group(1)).splitlines() if found else ["no verdict"]
    if lines[0] != "PAST 0":
        problems += [f"{name} at {WIDTH}px: {line}" for line in (lines[1:] or lines)[:10]]
    found = re.search(r'<pre id="dom">(.*?)</pre>', dumped, flags=re.S)
    dom = html.unescape(found.group(1)) if found else ""
    if not dom:
        return [*problems, f"{name}: the page's DOM did not come back from the browser"]
    examples = re.findall(
        r"<pre\b[^>]*>(?:(?!</pre>).)*?<code\b[^>]*>(.*?)</code>", dom, flags=re.S
    )
    if name == "reference" and not any("&gt;&gt;&gt;" in e for e in examples):
        problems.append(f"{name}: no docstring example renders as a code block (<pre><code> >>>)")
    prose = re.findall(r"<summary>Examples?</summary>\s*<p>(.{0,60})", dom, flags=re.S)
    problems += [f"{name}: an Example renders as prose, not code: {p!r}" for p in prose]
    quoted = re.findall(r"<blockquote>\s*<blockquote>(.*?)</blockquote>", dom, flags=re.S)
    if quoted:
        problems.append(f"{name}: {len(quoted)} nested blockquotes (a >>> example squashed)")
    text = text_of(dom)
    for role in ROLES:
        if role in text:
            at = text.index(role)
            problems.append(f"{name}: literal {role} in the text: ...{text[at - 30 : at + 40]!r}")
    return problems


def main() -> int:
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: scripts/docs-check installs Debian's chromium")
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="orch-docs-check-"))
    site = work / "site"
    build = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    if build.returncode != 0:
        print(build.stderr[-4000:], file=sys.stderr)
        return 1
    built = time.monotonic()
    pages = [p for p in sorted(site.glob("**/index.html")) if p.parent != site / "404"]
    problems: list[str] = []
    if not any(p.parent.name == "reference" for p in reference_pages(site)):
        problems.append("the API reference page (reference/index.html) has no API objects")
    profile = work / "chromium-profile"
    for page in pages:
        problems += check_page(page, site, profile, work)
    shot = ROOT / ".cache" / "docs-check" / "reference.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    chromium(
        profile,
        "--window-size=1280,2400",
        f"--screenshot={shot}",
        (site / "reference" / "index.html").as_uri(),
    )
    for problem in problems:
        print(problem, file=sys.stderr)
    done = time.monotonic()
    print(
        f"docs-check: {len(pages)} pages ({len(reference_pages(site))} with API reference), "
        f"{len(problems)} problems; "
        f"build {built - started:.1f}s, browser {done - built:.1f}s; screenshot {shot}"
    )
    shutil.rmtree(work, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
