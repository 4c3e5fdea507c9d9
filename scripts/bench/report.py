"""The benchmark figures as a reader sees them, and as a release checks them.

scripts/bench/run calls this; each command also runs on its own:

    report.py collect --record RUN.jsonl --json OUT.json [--peers-python PY] BENCH...
        the figures the benches recorded (_common.record) into OUT.json, with the machine;
        figures of benches not run this time are kept from OUT.json as it was
    report.py draw OUT.json [--doc docs/benchmarks.md] [--images docs/images/benchmarks]
        one SVG chart per bench (orch vs raw SDK vs Prefect per figure) and the figures
        table in the doc, between its markers (the prose around them stays)
    report.py check OUT.json
        exit 1, naming each figure under its target

Targets: a figure's ``target`` bounds orch's value (``vs: value``) or the ratio orch / peer
(``vs: raw`` / ``prefect``), in the direction of ``better``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import math
import os
import platform
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
START = "<!-- bench-figures:start (written by scripts/bench/report.py draw) -->"
END = "<!-- bench-figures:end -->"
# The libraries whose speed the figures compare against: their versions go in the JSON.
PEER_DISTS = (
    "boto3",
    "psycopg",
    "SQLAlchemy",
    "pandas",
    "snowflake-connector-python",
    "google-cloud-storage",
    "azure-storage-blob",
    "confluent-kafka",
    "mlflow",
    "dask",
    "distributed",
    "hvac",
    "slack-sdk",
    "httpx",
)
COLORS = {"orch": "#1f6feb", "raw": "#8b949e", "prefect": "#e8833a"}
Fig = dict[str, Any]


# --- collect ------------------------------------------------------------------------------


def machine_info(peers_python: str | None = None) -> dict[str, Any]:
    """Where the figures were taken: CPU, Python, and the versions compared."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str] = {}
    for dist in ("orch-core", *PEER_DISTS):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    if peers_python:
        out = subprocess.run(
            [peers_python, "-c", "import importlib.metadata as m; print(m.version('prefect'))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode == 0:
            versions["prefect"] = out.stdout.strip()
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def read_records(path: Path) -> list[Fig]:
    """The figures of one run, one JSON object a line (as _common.record writes them)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def merge(old: dict[str, Any] | None, figures: list[Fig], benches: Iterable[str],
          machine: dict[str, Any], when: str) -> dict[str, Any]:  # fmt: skip
    """The results file after a run of ``benches``: their figures replace the old ones."""
    ran = set(benches) | {f["bench"] for f in figures}
    kept = [f for f in (old or {}).get("figures", []) if f["bench"] not in ran]
    dates = {b: d for b, d in (old or {}).get("dates", {}).items() if b not in ran}
    dates.update({b: when for b in ran})
    # Benches in name order, each one's figures in the order it recorded them.
    merged = sorted([*kept, *figures], key=lambda f: str(f["bench"]))
    return {"date": when, "machine": machine, "dates": dict(sorted(dates.items())),
            "figures": merged}  # fmt: skip


# --- check --------------------------------------------------------------------------------


def checked_value(fig: Fig) -> float | None:
    """What the target bounds: orch's value, or orch / peer; None when not measured."""
    if fig["vs"] == "value":
        return float(fig["orch"])
    peer = fig.get(fig["vs"])
    if peer is None or peer == 0:
        return None
    return float(fig["orch"]) / float(peer)


def status(fig: Fig) -> str:
    """``met``, ``under`` (its target missed), ``no target`` or ``not measured``."""
    if fig.get("target") is None:
        return "no target"
    got = checked_value(fig)
    if got is None or math.isnan(got):
        return "not measured"
    ok = got >= fig["target"] if fig["better"] == "higher" else got <= fig["target"]
    return "met" if ok else "under"


def target_text(fig: Fig) -> str:
    """The target as a reader says it: ``≤ 10 µs``, ``≥ 0.95x boto3``."""
    if fig.get("target") is None:
        return ""
    sign = "≥" if fig["better"] == "higher" else "≤"
    if fig["vs"] == "value":
        return f"{sign} {fig['target']:g} {fig['unit']}"
    peer = fig["raw_label"] if fig["vs"] == "raw" else "Prefect"
    return f"{sign} {fig['target']:g}x {peer}"


def check(figures: Sequence[Fig]) -> list[str]:
    """One line per figure under its target (empty: all met)."""
    lines = []
    for fig in figures:
        if status(fig) == "under":
            got = checked_value(fig)
            shown = f"{fmt(got or 0)} {fig['unit']}" if fig["vs"] == "value" else f"{got:.2f}x"
            lines.append(f"{fig['bench']}: {fig['name']} ({fig['label']}): {shown}, "
                         f"target {target_text(fig)}")  # fmt: skip
    return lines


# --- draw ---------------------------------------------------------------------------------


def fmt(x: float) -> str:
    """A figure with as many digits as a reader needs."""
    if x == 0 or math.isnan(x):
        return f"{x:g}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def short(x: float) -> str:
    """An axis tick: 250k, 1.5M, 0.01."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:g}{suffix}"
    return f"{x:g}"


def ratio_text(r: float) -> str:
    """orch / peer: ``0.97x``; far under 1 as a fraction, ``1/112x``, easier to read."""
    if 0 < r < 0.1:
        return f"1/{1 / r:,.0f}x"
    return f"{r:,.2f}x" if r < 100 else f"{r:,.0f}x"


def sides(fig: Fig) -> list[tuple[str, str, float]]:
    """(key, label, value) of each side measured: orch, the raw SDK, Prefect."""
    out = [("orch", "orch", float(fig["orch"]))]
    if fig.get("raw") is not None:
        out.append(("raw", fig["raw_label"], float(fig["raw"])))
    if fig.get("prefect") is not None:
        out.append(("prefect", "Prefect 3", float(fig["prefect"])))
    return out


def target_line(fig: Fig) -> float | None:
    """Where orch's bar has to reach (or stay under), in the figure's unit."""
    if fig.get("target") is None:
        return None
    if fig["vs"] == "value":
        return float(fig["target"])
    peer = fig.get(fig["vs"])
    return None if peer is None else float(fig["target"]) * float(peer)


def chartable(fig: Fig) -> bool:
    """A chart says something when there is a peer or a target to set orch beside."""
    return len(sides(fig)) > 1 or target_line(fig) is not None


def draw_bench(bench: str, figures: Sequence[Fig], out: Path, kind: str = "svg") -> Path | None:
    """One SVG for a bench, a small chart per figure; log scale where the bars spread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    plt.rcParams.update(
        {"svg.hashsalt": "orch-bench", "svg.fonttype": "none", "font.size": 8,
         "axes.spines.top": False, "axes.spines.right": False}
    )  # fmt: skip
    figs = [f for f in figures if chartable(f)]
    if not figs:
        return None
    cols = 2 if len(figs) > 1 else 1
    rows = math.ceil(len(figs) / cols)
    # 7.5 in wide = 540 pt = 720 px: inside the docs' 760 px page.
    canvas, axes = plt.subplots(rows, cols, figsize=(7.5, 0.3 + 1.45 * rows), squeeze=False)
    for ax, fig in zip(axes.flat, figs, strict=False):
        bars = sides(fig)
        labels = [label for _, label, _ in bars]
        values = [v for _, _, v in bars]
        line = target_line(fig)
        shown = [v for v in [*values, line] if v is not None and v > 0]
        log = bool(shown) and max(shown) / min(shown) >= 20
        ax.barh(labels, values, color=[COLORS[k] for k, _, _ in bars], height=0.6)
        ax.invert_yaxis()
        for y, v in enumerate(values):
            ax.text(v, y, f" {fmt(v)}", va="center", fontsize=7)
        if line is not None:
            ax.axvline(line, color="#cf222e", linestyle="--", linewidth=1)
        top = max(shown) if shown else 1.0
        if log:
            ax.set_xscale("log")
            ax.set_xlim(min(shown) / 2, top * 8)
        else:
            ax.set_xlim(0, top * 1.3)
            ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: short(x)))
        arrow = "higher is better" if fig["better"] == "higher" else "lower is better"
        scale = ", log scale" if log else ""
        goal = f"; target {target_text(fig)} (dashed)" if line is not None else ""
        title = "\n".join(
            textwrap.fill(text, 58)
            for text in (fig["label"], f"{fig['unit']}, {arrow}{scale}{goal}")
        )
        ax.set_title(title, fontsize=7, loc="left")
        ax.tick_params(axis="both", labelsize=7)
    for ax in list(axes.flat)[len(figs) :]:
        ax.set_visible(False)
    canvas.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{bench}.{kind}"
    canvas.savefig(path, format=kind, metadata={"Date": None} if kind == "svg" else {}, dpi=96)
    plt.close(canvas)
    return path


def markdown(data: dict[str, Any], images: str) -> str:
    """The figures table (one section per bench), for the doc between its markers."""
    m = data["machine"]
    v = m.get("versions", {})
    versions = ", ".join(f"{k} {v[k]}" for k in ("orch-core", "prefect") if k in v)
    lines = [
        f"Taken {data['date']} on {m['cpu']} ({m['cpu_count']} CPUs), "
        f"Python {m['python']}{'; ' + versions if versions else ''}: one run "
        "(`scripts/bench/results/latest.json` has every figure and version).",
        "",
        "In brackets: orch / that column, so under 1 is better for a time or a size (↓) and "
        "over 1 for a rate (↑); 1/100x: orch takes a hundredth of the time.",
        "",
    ]
    benches: dict[str, list[Fig]] = {}
    for fig in data["figures"]:
        benches.setdefault(fig["bench"], []).append(fig)
    for bench, figs in benches.items():
        lines += [f"### {bench}", ""]
        when = data.get("dates", {}).get(bench, data["date"])
        if when != data["date"]:  # a later run of some benches kept this one's figures
            lines += [f"Measured {when}.", ""]
        if any(chartable(f) for f in figs):
            lines += [f"![{bench}: orch vs raw SDK vs Prefect]({images}/{bench}.svg)", ""]
        lines += ["| figure | orch | raw SDK | Prefect 3 | target |",
                  "| --- | --: | --: | --: | --- |"]  # fmt: skip
        for fig in figs:
            arrow = "↑" if fig["better"] == "higher" else "↓"
            cells = [f"{fig['label']} ({fig['unit']} {arrow})", fmt(fig["orch"])]
            for key in ("raw", "prefect"):
                peer = fig.get(key)
                if peer is None:
                    cells.append("")
                    continue
                ratio = f" ({ratio_text(fig['orch'] / peer)})" if peer else ""
                who = f"{fig['raw_label']}: " if key == "raw" else ""
                cells.append(f"{who}{fmt(peer)}{ratio}")
            met = {"met": ": met", "under": ": **missed**", "not measured": ": not measured"}
            cells.append(target_text(fig) + met.get(status(fig), ""))
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
        notes = [f"- {fig['label']}: {fig['note']}." for fig in figs if fig.get("note")]
        if notes:
            lines += [*notes, ""]
    return "\n".join(lines)


def update_doc(doc: Path, body: str) -> None:
    """Replace what is between the doc's markers; the prose around them stays."""
    text = doc.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{doc}: no {START!r} ... {END!r} markers")
    doc.write_text(pattern.sub(lambda _: f"{START}\n{body}\n{END}", text))


def draw(data: dict[str, Any], doc: Path, images: Path) -> None:
    """Every bench's chart into ``images`` and the table into ``doc``."""
    benches: dict[str, list[Fig]] = {}
    for fig in data["figures"]:
        benches.setdefault(fig["bench"], []).append(fig)
    for bench, figs in benches.items():
        draw_bench(bench, figs, images)
    rel = os.path.relpath(images, doc.parent)
    update_doc(doc, markdown(data, rel))


# --- command line -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--record", type=Path, required=True)
    c.add_argument("--json", type=Path, required=True)
    c.add_argument("--peers-python")
    c.add_argument("benches", nargs="*")
    d = sub.add_parser("draw")
    d.add_argument("json", type=Path)
    d.add_argument("--doc", type=Path, default=ROOT / "docs/benchmarks.md")
    d.add_argument("--images", type=Path, default=ROOT / "docs/images/benchmarks")
    k = sub.add_parser("check")
    k.add_argument("json", type=Path)
    args = p.parse_args(argv)
    if args.cmd == "collect":
        old = json.loads(args.json.read_text()) if args.json.exists() else None
        when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        data = merge(old, read_records(args.record), args.benches,
                     machine_info(args.peers_python), when)  # fmt: skip
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=1) + "\n")
        print(f"{len(data['figures'])} figures in {args.json}")
        return 0
    data = json.loads(args.json.read_text())
    if args.cmd == "draw":
        draw(data, args.doc, args.images)
        print(f"charts in {args.images}, table in {args.doc}")
        return 0
    failures = check(data["figures"])
    for line in failures:
        print("UNDER TARGET", line)
    targets = [f for f in data["figures"] if f.get("target") is not None]
    unmeasured = [f for f in targets if status(f) == "not measured"]
    for fig in unmeasured:
        print(f"not measured: {fig['bench']}: {fig['name']} (no {fig['vs']} figure)")
    print(f"{len(targets) - len(failures) - len(unmeasured)} of {len(targets)} targets met")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
