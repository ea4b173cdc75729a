"""Shared pieces of the benchmarks: the simulator in its own process, generated input, medians, tables, JSON.

Every benchmark compares figures measured in the same run (the machine is shared and noisy) and quotes medians.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cartloader.cli.options import concurrency_option
from cartloader.config import Concurrency

TOKEN = "sim-token"
CREATE_PATH = "/crm/v3/objects/carts/batch/create"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class SimulatorProcess:
    """A running ``python -m cartloader simulator`` (its own process, ``--no-store``)."""

    url: str
    process: subprocess.Popen[str]

    def stats(self) -> dict[str, Any]:
        """``GET /_sim/stats``."""
        with urllib.request.urlopen(self.url + "/_sim/stats", timeout=10) as response:
            data: dict[str, Any] = json.loads(response.read())
        return data

    def reset_stats(self) -> None:
        """``POST /_sim/reset-stats``."""
        request = urllib.request.Request(self.url + "/_sim/reset-stats", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass


@contextmanager
def simulator(
    *,
    rate: str | None = None,
    latency_ms: tuple[float, float] | None = None,
    seed: int = 1,
    store: bool = False,
    extra: Sequence[str] = (),
) -> Iterator[SimulatorProcess]:
    """Start the simulator in its own process (``--no-store`` unless ``store``) and stop it (SIGTERM) on exit."""
    command = [sys.executable, "-m", "cartloader", "simulator", "--port", "0", "--seed", str(seed)]
    if not store:
        command.append("--no-store")
    if rate is not None:
        command += ["--rate", rate]
    if latency_ms is not None:
        command += ["--latency-ms", f"{latency_ms[0]:g},{latency_ms[1]:g}"]
    command += list(extra)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the simulator did not start: {line!r}")
        yield SimulatorProcess(line.removeprefix("listening on "), process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _price(i: int) -> str:
    """A price with two decimals, e.g. ``10.00`` .. ``99.99``."""
    return f"{10 + i % 9000 // 100}.{i % 100:02d}"


def cart_line(i: int) -> bytes:
    """One NDJSON input line: a flat cart with a unique external id and a price given as a JSON number."""
    return (
        f'{{"hs_external_cart_id":"ext-{i:08d}","hs_cart_name":"Cart {i}","hs_source_store":"bench-store",'
        f'"hs_external_status":"open","hs_total_price":{_price(i)},"hs_currency_code":"EUR"}}\n'
    ).encode()


def cart_record(i: int) -> dict[str, Any]:
    """The same cart as ``cart_line(i)``, as a dict for the library API."""
    return {
        "hs_external_cart_id": f"ext-{i:08d}",
        "hs_cart_name": f"Cart {i}",
        "hs_source_store": "bench-store",
        "hs_external_status": "open",
        "hs_total_price": float(_price(i)),
        "hs_currency_code": "EUR",
    }


def write_input(path: Path, records: int) -> Path:
    """Write ``records`` cart lines to ``path`` (reused when it already holds exactly that many)."""
    marker = path.with_suffix(path.suffix + ".count")
    if path.exists() and marker.exists() and marker.read_text() == str(records):
        return path
    with open(path, "wb") as stream:
        chunk: list[bytes] = []
        for i in range(1, records + 1):
            chunk.append(cart_line(i))
            if len(chunk) == 10_000:
                stream.write(b"".join(chunk))
                chunk.clear()
        stream.write(b"".join(chunk))
    marker.write_text(str(records))
    return path


@dataclass(frozen=True, slots=True)
class ChildRun:
    """A finished subprocess: exit status, wall time, CPU seconds (user + system) and peak RSS in MiB."""

    returncode: int
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    stderr: str


def run_child(command: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> ChildRun:
    """Run ``command`` to the end and measure that one process with ``wait4`` (not the simulator's)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        list(command), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd or REPO_ROOT
    )
    assert process.stderr is not None
    stderr = process.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stderr.close()
    # ru_maxrss is in KiB on Linux.
    return ChildRun(process.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stderr)


def cpu_seconds() -> float:
    """CPU time (user + system) of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def median(values: Sequence[float]) -> float:
    """The median (0.0 for no values)."""
    return float(statistics.median(values)) if values else 0.0


def cli_env() -> dict[str, str]:
    """The environment of a CLI run: the simulator's token, nothing read from the user's HubSpot settings."""
    env = dict(os.environ)
    env["HUBSPOT_ACCESS_TOKEN"] = TOKEN
    env.pop("HUBSPOT_BASE_URL", None)
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def cli_command(input_path: Path, url: str, out: Path, *options: str) -> list[str]:
    """``python -m cartloader INPUT --base-url URL --out OUT --overwrite --no-progress ...``."""
    return [
        sys.executable,
        "-m",
        "cartloader",
        str(input_path),
        "--base-url",
        url,
        "--out",
        str(out),
        "--overwrite",
        "--no-progress",
        *options,
    ]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_1min_at_start": load,
    }


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a plain-text table (also valid Markdown)."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |")


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 0.1 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


#: The concurrency of benchmarks that need a number (threads, the aiohttp floor): cartloader's fixed default
#: before ``auto``, from benchmarks.tune.
FIXED_CONCURRENCY = 32


def concurrency_arg(text: str) -> Concurrency:
    """``--concurrency auto|N`` of a benchmark, as the command line takes it."""
    return concurrency_option(text)


def require_extra(module: str, what: str) -> None:
    """Exit with one line naming the extra to install when ``module`` (from the ``bench`` extra) is missing."""
    if importlib.util.find_spec(module) is None:
        raise SystemExit(f"{what} needs {module}: install the benchmark extra, pip install -e '.[bench]'")


def write_json(name: str, data: dict[str, Any], path: Path | None = None) -> Path:
    """Write ``benchmarks/results/NAME.json`` (or ``path``) and return its path."""
    path = path or RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path
