"""The benchmark report: figures recorded by a bench, the JSON, --check, charts and tables.

Nothing here times anything: the figures are made up, small, and fixed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "scripts/bench"
sys.path.insert(0, str(BENCH))
import report  # noqa: E402


def fig(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "bench": "demo", "name": "x", "label": "x", "unit": "µs", "orch": 1.0, "raw": None,
        "prefect": None, "raw_label": "raw SDK", "better": "lower", "target": None,
        "vs": "value", "note": "",
    }  # fmt: skip
    return {**base, **kw}


FIGURES = [
    fig(name="task_call", label="task call", orch=8.0, prefect=900.0, target=10),
    fig(name="hello", label="hello.py", unit="ms", orch=75.0, prefect=2400.0, target=60),
    fig(bench="aws", name="s3_upload", label="upload", unit="MiB/s", orch=90.0, raw=100.0,
        raw_label="boto3", better="higher", target=0.95, vs="raw"),
    fig(bench="aws", name="s3_list_rss", label="list RSS", unit="MiB", orch=100.0, raw=100.0,
        raw_label="boto3", target=1.05, vs="raw"),
    fig(bench="aws", name="snowflake_like", label="no raw this run", unit="rows/s", orch=5.0,
        better="higher", target=0.95, vs="raw"),
    fig(bench="aws", name="get_client", label="get_client", orch=0.2),
]  # fmt: skip


def results(figures: list[dict[str, Any]] = FIGURES) -> dict[str, Any]:
    machine = {"cpu": "Test CPU", "cpu_count": 2, "python": "3.11.2", "platform": "Linux",
               "versions": {"orch-core": "0.1.0", "prefect": "3.8.0"}}  # fmt: skip
    return {"date": "2026-11-30 07:00 UTC", "machine": machine, "dates": {}, "figures": figures}


def test_status_reads_the_target_in_the_direction_of_better() -> None:
    got = {f["name"]: report.status(f) for f in FIGURES}
    assert got == {
        "task_call": "met",  # 8 <= 10 µs
        "hello": "under",  # 75 > 60 ms
        "s3_upload": "under",  # 0.90x < 0.95x
        "s3_list_rss": "met",  # 1.00x <= 1.05x
        "snowflake_like": "not measured",
        "get_client": "no target",
    }


def test_check_names_each_figure_under_its_target() -> None:
    lines = report.check(FIGURES)
    assert len(lines) == 2
    assert lines[0].startswith("demo: hello (hello.py): 75.0 ms, target ≤ 60 ms")
    assert lines[1].startswith("aws: s3_upload (upload): 0.90x, target ≥ 0.95x boto3")


def test_check_command_exits_1_when_a_figure_is_under(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(results()))
    assert report.main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "UNDER TARGET demo: hello" in out
    assert "not measured: aws: snowflake_like" in out
    assert "2 of 5 targets met" in out
    path.write_text(json.dumps(results([f for f in FIGURES if report.status(f) != "under"])))
    assert report.main(["check", str(path)]) == 0


def test_run_check_from_a_file_measures_nothing_and_fails_on_a_miss(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(results()))
    out = subprocess.run(
        ["bash", str(BENCH / "run"), "--check", "--from", str(path)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    assert "UNDER TARGET aws: s3_upload" in out.stdout


def test_record_appends_a_line_named_after_the_bench(tmp_path: Path) -> None:
    script = tmp_path / "demo_bench.py"
    script.write_text(
        f"import sys; sys.path.insert(0, {str(BENCH)!r})\n"
        "from _common import record\n"
        "record('a', 'A', 'ms', 3.0, prefect=30.0, target=5)\n"
        "record('b', 'B', 'MiB/s', 9.0, raw=float('nan'), better='higher', target=0.9,"
        " vs='raw')\n"
    )
    out = tmp_path / "run.jsonl"
    env = {"ORCH_BENCH_RECORD": str(out), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, str(script)], check=True, env=env, timeout=60)
    a, b = report.read_records(out)
    assert (a["bench"], a["name"], a["orch"], a["prefect"], a["target"]) == ("demo", "a", 3, 30, 5)
    assert b["raw"] is None  # NaN: not measured
    assert report.status(b) == "not measured"


def test_collect_replaces_only_the_benches_that_ran(tmp_path: Path) -> None:
    old = {**results(), "dates": {"aws": "2026-11-30 07:00 UTC", "demo": "2026-11-30 07:00 UTC"}}
    new = [fig(name="task_call", label="task call", orch=7.0, target=10)]
    merged = report.merge(old, new, ["demo"], {"cpu": "other"}, "2026-12-01 00:00 UTC")
    names = [(f["bench"], f["name"]) for f in merged["figures"]]
    assert names[0] == ("aws", "s3_upload")  # kept, benches in name order
    assert ("demo", "hello") not in names  # the demo bench ran again: its old figures go
    assert ("demo", "task_call") in names
    assert merged["dates"] == {"aws": "2026-11-30 07:00 UTC", "demo": "2026-12-01 00:00 UTC"}


def test_draw_writes_charts_within_the_page_and_the_table_between_the_markers(
    tmp_path: Path,
) -> None:
    doc = tmp_path / "docs/benchmarks.md"
    doc.parent.mkdir()
    doc.write_text(f"# Benchmarks\n\nprose above\n\n{report.START}\nold\n{report.END}\n\nbelow\n")
    images = tmp_path / "docs/images/benchmarks"
    report.draw(results(), doc, images)
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nprose above\n") and text.endswith("\nbelow\n")
    assert "\nold\n" not in text
    assert "![demo: orch vs raw SDK vs Prefect](images/benchmarks/demo.svg)" in text
    assert "| upload (MiB/s ↑) | 90.0 | boto3: 100 (0.90x) |  | ≥ 0.95x boto3: **missed** |" in text
    assert "| task call (µs ↓) | 8.00 |  | 900 (1/112x) | ≤ 10 µs: met |" in text
    assert "| get_client (µs ↓) | 0.2 |  |  |  |" in text
    assert "Test CPU (2 CPUs), Python 3.11.2; orch-core 0.1.0, prefect 3.8.0" in text
    for name in ("demo", "aws"):
        svg = (images / f"{name}.svg").read_text()
        width = float(re.search(r'<svg[^>]* width="([\d.]+)pt"', svg).group(1))  # type: ignore[union-attr]
        assert width * 4 / 3 <= 760  # pt -> CSS px: inside scripts/docs-check's page
        assert "orch" in svg and "Prefect 3" in svg if name == "demo" else "boto3" in svg
    # Drawn again from the same figures, the files are the same (no date, fixed ids).
    before = (images / "aws.svg").read_bytes()
    report.draw(results(), doc, images)
    assert (images / "aws.svg").read_bytes() == before


def test_the_docs_page_shows_the_committed_results() -> None:
    data = json.loads((ROOT / "scripts/bench/results/latest.json").read_text())
    text = (ROOT / "docs/benchmarks.md").read_text()
    body = report.markdown(data, "images/benchmarks")
    assert f"{report.START}\n{body}\n{report.END}" in text, "run scripts/bench/report.py draw"
    for bench in {f["bench"] for f in data["figures"] if report.chartable(f)}:
        assert (ROOT / f"docs/images/benchmarks/{bench}.svg").exists()
