"""``reconcile``: each rule of docs/duplicates.md against the simulator over loopback HTTP, duplicates made by the
simulator's ``post_*`` faults (processed, then the answer fails) forced with ``faults_at``."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

import cartloader
from cartloader import ReconcileSummary, reconcile
from cartloader.errors import ConfigError
from tests.test_cli_support import SimThread, Start, ids_by_external_id, last_entries, log_entries, run_cli

pytestmark = pytest.mark.anyio
SCOPES = frozenset({"crm.objects.carts.write", "crm.objects.carts.read", "crm.schemas.carts.read"})
TOKENS = {"sim-token": SCOPES}


def _start(simulator: Start, **config: Any) -> SimThread:
    return simulator(tokens=TOKENS, echo_trace_ids="never", search_rate=None, **config)


def _cart(n: int, external: str | None = None) -> dict[str, Any]:
    return {"hs_cart_name": f"cart {n}", "hs_external_cart_id": external or f"T-{n}", "hs_total_price": n * 1.25}


def _load(sim: SimThread, folder: Path, carts: list[dict[str, Any]], *options: str, out: str = "out.ndjson") -> Path:
    source = folder / "in.ndjson"
    if not source.exists():
        source.write_bytes(b"".join(orjson.dumps(cart) + b"\n" for cart in carts))
    done = run_cli(source, "--base-url", sim.url, "--out", out, "--no-progress", *options, cwd=folder)
    assert done.returncode in (0, 1), done.stderr
    return folder / out


def _copies(sim: SimThread) -> dict[str, list[str]]:
    return {value: ids for value, ids in ids_by_external_id(sim.objects()).items() if len(ids) > 1}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _restamp(sim: SimThread, object_id: str, created: datetime) -> None:
    """As if HubSpot had created the object at ``created``."""
    store = sim.sim._hubspot.store

    def change() -> None:
        store.objects[object_id] = dataclasses.replace(store.objects[object_id], created_at=_iso(created))

    sim._call(change)


def _add_object(sim: SimThread, properties: dict[str, str], created: datetime) -> str:
    """An object made by another system (not through this log)."""
    store = sim.sim._hubspot.store
    holder: list[str] = []

    def add() -> None:
        from cartloader.simulator.state import StoredObject

        object_id = store.new_id()
        store.put(StoredObject(object_id, dict(properties), None, 0, _iso(created), _iso(created)))
        holder.append(object_id)

    sim._call(add)
    return holder[0]


async def _reconcile(out: Path, sim: SimThread, *, apply: bool = False) -> ReconcileSummary:
    return await reconcile(out, apply=apply, token="sim-token", base_url=sim.url)


def _named(out: Path) -> set[str]:
    return {entry["id"] for entry in log_entries(out) if entry.get("id")}


def test_reconcile_and_its_summary_are_exported() -> None:
    assert {"reconcile", "ReconcileSummary"} <= set(cartloader.__all__)


async def test_fault_copies_are_archived_the_log_settled_and_a_second_apply_changes_nothing(
    simulator: Start, tmp_path: Path
) -> None:
    sim = _start(simulator, faults_at={2: "post_502", 4: "post_reset"})
    out = _load(sim, tmp_path, [_cart(n) for n in range(1, 401)])
    copies = _copies(sim)
    assert len(copies) == 200
    named = _named(out)
    dry = run_cli("reconcile", out, "--base-url", sim.url, cwd=tmp_path)
    assert dry.returncode == 1, dry.stderr
    assert orjson.loads(dry.stdout)["duplicates_found"] == 200
    assert len(_copies(sim)) == 200  # nothing archived without --apply
    applied = run_cli("reconcile", out, "--base-url", sim.url, "--apply", "--summary-json", "s.json", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    summary = orjson.loads((tmp_path / "s.json").read_bytes())
    assert (summary["archived"], summary["settled"], summary["checked"]) == (200, 200, 200)
    # one property read, one search of the 200 values in two pages of 200 results, two archives of 100
    assert (summary["search_requests"], summary["requests"]) == (2, 5)
    assert _copies(sim) == {}
    assert (
        named <= set(sim.objects_by_id()) if hasattr(sim, "objects_by_id") else named <= {o.id for o in sim.objects()}
    )
    report = [orjson.loads(line) for line in (tmp_path / "out.ndjson.reconcile.ndjson").read_bytes().splitlines()]
    assert {entry["archived"] for entry in report} == set(summary["archived_ids"])
    assert all(entry["kept"] in named and entry["kept"] != entry["archived"] for entry in report)
    assert not any(entry.get("duplicate_risk") for entry in last_entries(out).values())
    again = run_cli("reconcile", out, "--base-url", sim.url, "--apply", cwd=tmp_path)
    assert again.returncode == 0
    assert orjson.loads(again.stdout)["archived"] == 0


async def test_objects_made_outside_the_records_attempts_are_kept(simulator: Start, tmp_path: Path) -> None:
    sim = _start(simulator, faults_at={1: "post_502"})
    now = datetime.now(UTC)
    # made by another system with the same value and values: a day before the run (rule c)
    before = _add_object(
        sim, {"hs_cart_name": "cart 1", "hs_external_cart_id": "T-1", "hs_total_price": "1.25"}, now - timedelta(days=1)
    )
    out = _load(sim, tmp_path, [_cart(n) for n in range(1, 51)])
    # made during the run with the same value but other values (rule b), and with the value in another case (a)
    other = _add_object(sim, {"hs_cart_name": "not ours", "hs_external_cart_id": "T-2", "hs_total_price": "2.5"}, now)
    upper = _add_object(sim, {"hs_cart_name": "cart 3", "hs_external_cart_id": "t-3", "hs_total_price": "3.75"}, now)
    summary = await _reconcile(out, sim, apply=True)
    left = {obj.id for obj in sim.objects()}
    assert {before, other, upper} <= left
    assert summary.archived == 50
    assert _named(out) <= left
    assert {value: len(ids) for value, ids in ids_by_external_id(sim.objects()).items() if len(ids) > 1} == {
        "T-1": 2,
        "T-2": 2,
    }


async def test_two_lines_with_one_value_keep_two_objects(simulator: Start, tmp_path: Path) -> None:
    sim = _start(simulator, faults_at={1: "post_502"})
    carts = [_cart(1, "TWIN"), _cart(1, "TWIN"), *(_cart(n) for n in range(3, 21))]
    out = _load(sim, tmp_path, carts)
    assert len(ids_by_external_id(sim.objects())["TWIN"]) == 4
    summary = await _reconcile(out, sim, apply=True)
    assert summary.exit_status == 0
    assert sorted(ids_by_external_id(sim.objects())["TWIN"]) == sorted(
        entry["id"] for line, entry in last_entries(out).items() if line in (1, 2)
    )


async def test_a_resumed_run_spanning_days_uses_every_pending_lines_window(simulator: Start, tmp_path: Path) -> None:
    sim = _start(simulator, faults_at={1: "post_502"})
    out = _load(sim, tmp_path, [_cart(n) for n in range(1, 11)])
    entries = log_entries(out)
    named = _named(out)
    copy_ids = [i for ids in _copies(sim).values() for i in ids if i not in named]
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    for object_id in copy_ids:  # the first attempt was two days ago, in a run that was killed
        _restamp(sim, object_id, two_days_ago + timedelta(seconds=1))
    earlier = [
        orjson.dumps({"line": n, "key": f"old-{n}", "status": "pending", "sent_at": _iso(two_days_ago)})
        for n in range(1, 11)
    ]
    out.write_bytes(b"\n".join(earlier) + b"\n" + b"".join(orjson.dumps(e) + b"\n" for e in entries))
    summary = await _reconcile(out, sim, apply=True)
    assert sorted(summary.archived_ids) == sorted(copy_ids)
    assert _copies(sim) == {}


async def test_a_lagging_index_makes_values_not_checkable_and_archives_nothing(
    simulator: Start, tmp_path: Path
) -> None:
    sim = _start(simulator, faults_at={1: "post_502"}, search_index_delay_ms=600)
    out = _load(sim, tmp_path, [_cart(n) for n in range(1, 11)])
    named = _named(out)
    now = datetime.now(UTC)
    for obj in sim.objects():  # the copies are indexed already, the objects the log names not yet
        _restamp(sim, obj.id, now if obj.id in named else now - timedelta(seconds=3))
    lagging = await _reconcile(out, sim, apply=True)
    assert (lagging.archived, lagging.lagging_values, lagging.exit_status) == (0, 10, 1)
    assert lagging.not_checkable == 10
    assert len(_copies(sim)) == 10
    await anyio.sleep(0.7)
    caught_up = await _reconcile(out, sim, apply=True)
    assert (caught_up.archived, caught_up.exit_status) == (10, 0)
    assert _copies(sim) == {}


async def test_shards_never_archive_an_object_a_sibling_log_names(simulator: Start, tmp_path: Path) -> None:
    sim = _start(simulator, faults_at={1: "post_502"})
    carts = [_cart(1, "SHARED"), _cart(1, "SHARED"), *(_cart(n) for n in range(3, 11))]
    shard0 = _load(sim, tmp_path, carts, "--shard", "0/2", out="in.shard-0-of-2.outcomes.ndjson")
    with pytest.raises(ConfigError, match=r"shard log .*in\.shard-1-of-2\.outcomes\.ndjson is missing"):
        await _reconcile(shard0, sim)
    shard1 = _load(sim, tmp_path, carts, "--shard", "1/2", out="in.shard-1-of-2.outcomes.ndjson")
    summary = await _reconcile(shard0, sim, apply=True)
    assert summary.archived == 5  # the copies of shard 0's five records
    left = {obj.id for obj in sim.objects()}
    assert _named(shard1) <= left
    assert _named(shard0) <= left
    assert len(ids_by_external_id(sim.objects())["SHARED"]) == 2


async def test_a_log_without_sent_at_is_not_checkable(simulator: Start, tmp_path: Path) -> None:
    sim = _start(simulator, faults_at={1: "post_502"})
    out = _load(sim, tmp_path, [_cart(n) for n in range(1, 6)])
    stripped = [{k: v for k, v in entry.items() if k != "sent_at"} for entry in log_entries(out)]
    out.write_bytes(b"".join(orjson.dumps(entry) + b"\n" for entry in stripped))
    summary = await _reconcile(out, sim, apply=True)
    assert (summary.archived, summary.not_checkable, summary.not_checkable_lines) == (0, 5, [1, 2, 3, 4, 5])


async def test_an_object_an_earlier_entry_names_is_never_archived_nor_taken(simulator: Start, tmp_path: Path) -> None:
    sim = _start(simulator, faults_at={1: "post_502"})
    out = _load(sim, tmp_path, [_cart(n) for n in range(1, 4)])
    first = last_entries(out)[1]
    copy = next(i for i in ids_by_external_id(sim.objects())["T-1"] if i != first["id"])
    # line 1 then ended failed CONFLICT naming its copy: both objects are named by a line of the log (rule d)
    conflict = {"line": 1, "key": first["key"], "status": "failed", "attempts": 2, "duplicate_risk": True,
                "error": {"category": "CONFLICT", "message": "exists"}, "existing_id": copy}  # fmt: skip
    with out.open("ab") as stream:
        stream.write(orjson.dumps(conflict) + b"\n")
    summary = await _reconcile(out, sim, apply=True)
    assert {first["id"], copy} <= {obj.id for obj in sim.objects()}
    assert last_entries(out)[1]["status"] == "failed"
    assert summary.archived == 2  # the copies of lines 2 and 3 only


async def test_copies_go_only_beyond_the_lines_expecting_an_object(simulator: Start, tmp_path: Path) -> None:
    sim = _start(simulator, faults_at={1: "post_502"})
    out = _load(sim, tmp_path, [_cart(1, "V"), {**_cart(2, "V"), "hs_cart_name": "other"}])
    entries = last_entries(out)
    second = entries[2]
    # line 2 ended failed and flagged, and its objects are gone: line 1's copy is one of two objects for two lines
    gone = [obj.id for obj in sim.objects() if obj.properties.get("hs_cart_name") == "other"]
    store = sim.sim._hubspot.store
    sim._call(lambda: [store.objects.pop(object_id) for object_id in gone])
    failed = {"line": 2, "key": second["key"], "status": "failed", "attempts": 2, "duplicate_risk": True,
              "error": {"category": "MISSING_RESULT", "message": "no result"}}  # fmt: skip
    with out.open("ab") as stream:
        stream.write(orjson.dumps(failed) + b"\n")
    summary = await _reconcile(out, sim, apply=True)
    assert summary.archived == 0  # rule (e): not more objects than lines carrying V
    assert len(ids_by_external_id(sim.objects())["V"]) == 2
