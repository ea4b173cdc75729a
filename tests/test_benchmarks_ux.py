"""Benchmarks as a user meets them: the tuning sweep without matplotlib still prints its table and writes its JSON,
and says how to get the chart; the chart's default path is under benchmarks/results/ (git-ignored), never a tracked
file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from tests.test_cli_support import ROOT

_WITHOUT_MATPLOTLIB = (
    "import sys; sys.modules['matplotlib'] = None  # as if it were not installed\n"
    "from benchmarks.tune import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_the_tune_sweep_without_matplotlib_prints_writes_json_and_says_how_to_get_the_chart(tmp_path: Path) -> None:
    args = ["--latency-ms", "50", "--concurrency", "2,4", "--windows", "1", "--speedup", "50", "--no-move"]
    json_path, chart = tmp_path / "tune.json", tmp_path / "tune.png"
    completed = subprocess.run(
        [sys.executable, "-c", _WITHOUT_MATPLOTLIB, *args, "--json", str(json_path), "--chart", str(chart)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "| latency p50/p95 ms | concurrency |" in completed.stdout
    assert "recommendation at p50 50 ms" in completed.stdout
    assert "chart: not drawn, matplotlib is not installed: pip install -e '.[bench]'" in completed.stdout
    assert not chart.exists()
    data = orjson.loads(json_path.read_bytes())
    assert [point["concurrency"] for point in data["points"]] == [2, 4]


def test_the_tune_chart_and_json_go_under_benchmarks_results_by_default() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.tune", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 0
    help_text = " ".join(completed.stdout.split())
    assert "(default benchmarks/results/tune.png)" in help_text
    assert "(default benchmarks/results/tune.json)" in help_text
    assert "docs/tuning.png" not in help_text


def test_a_benchmark_missing_its_extra_says_which_to_install() -> None:
    hide = (
        "import importlib.util, sys\n"
        "find = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name in ('hubspot', 'pyinstrument') else find(name, *a)\n"
        "import runpy; sys.argv = [sys.argv[1]]; runpy.run_module(sys.argv[0], run_name='__main__')\n"
    )
    for module, needle in (("benchmarks.peers", "needs hubspot"), ("benchmarks.overhead", "needs pyinstrument")):
        completed = subprocess.run(
            [sys.executable, "-c", hide, module], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
        )
        assert completed.returncode == 1, completed.stderr
        assert needle in completed.stderr and "pip install -e '.[bench]'" in completed.stderr
        assert "Traceback" not in completed.stderr
