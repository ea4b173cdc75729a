"""The preflight's edge values: every row of the "Edge values" table in docs/preflight.md, read from the doc itself
(the table is the case list), checked through ``Preflight.check`` on the schema the simulator publishes, and all
rows at once through a real load into the simulator: a refused value is ``invalid`` and never sent, an accepted
one is created, one left to HubSpot is sent (the simulator may refuse it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from cartloader.api.loader import bulk_create
from cartloader.hubspot.schema import portal_schema
from cartloader.input.normalize import normalize
from cartloader.input.preflight import Preflight
from cartloader.models import CartInput, Outcome
from cartloader.simulator import Simulator
from cartloader.simulator.schema import Schema, parse_property, parse_rule

DOC = Path(__file__).resolve().parent.parent / "docs" / "preflight.md"
_TERM = re.compile(r'\s*("(?:[^"\\]|\\.)*")(?:\s*\u00d7\s*([0-9]+))?\s*(\+|$)')
_VERDICT = re.compile(r"accepted|left to HubSpot|refused ([A-Z_]+)")


@dataclass(frozen=True)
class Edge:
    """One row: a property (simulator ``--property`` form without the name), an optional rule (``--rule`` form
    without the property), the value, and what the preflight does with it."""

    property: str
    rule: str
    value: str
    verdict: str  # "accepted", "left", or "refused"
    code: str | None
    row: str


def _value(cell: str) -> str:
    text = cell.strip().removeprefix("`").removesuffix("`")
    parts: list[str] = []
    position = 0
    while position < len(text):
        term = _TERM.match(text, position)
        assert term is not None and term.end() > position, f"cannot read the value {cell!r}"
        parts.append(orjson.loads(term[1]) * int(term[2] or 1))
        position = term.end()
    return "".join(parts)


def edges() -> list[Edge]:
    """The rows of the "Edge values" table of docs/preflight.md."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Edge values\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    found = []
    for line in rows:
        cells = [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        assert len(cells) == 5, line
        kind, rule, value, here, _ = cells
        verdict = _VERDICT.fullmatch(here)
        assert verdict is not None, f"unknown verdict {here!r} in {line}"
        found.append(
            Edge(
                kind.strip("`"),
                rule.strip("`"),
                _value(value),
                "refused" if verdict[1] else ("accepted" if here == "accepted" else "left"),
                verdict[1],
                line,
            )
        )
    return found


EDGES = edges()


def test_the_table_covers_the_audits_cases() -> None:
    assert len(EDGES) >= 40
    values = {edge.value for edge in EDGES}
    assert {"-86400000", "a;b", " abc ", "+33", "😀", "١٢"} <= values
    assert {"accepted", "left", "refused"} == {edge.verdict for edge in EDGES}


def schema_of(cases: list[tuple[str, Edge]]) -> Schema:
    return Schema(
        [parse_property(f"{name}:{edge.property}") for name, edge in cases],
        [parse_rule(f"{name}:{edge.rule}") for name, edge in cases if edge.rule],
    )


def preflight_of(schema: Schema) -> Preflight:
    body = orjson.dumps(schema.properties_json())
    rules = orjson.dumps(schema.validations_json())
    return Preflight(portal_schema(body, rules), sensitive_read=True)


@pytest.mark.parametrize("edge", EDGES, ids=[f"{i}-{e.property.split(':')[0]}-{e.rule}" for i, e in enumerate(EDGES)])
def test_preflight_check_on_each_edge_value(edge: Edge) -> None:
    preflight = preflight_of(schema_of([("edge", edge)]))
    record = normalize({"edge": edge.value}, 1)
    assert isinstance(record, CartInput)
    refusal = preflight.check(record)
    if edge.verdict == "refused":
        assert refusal is not None, edge.row
        assert refusal.category == edge.code, (refusal.message, edge.row)
    else:
        assert refusal is None, (refusal.message if refusal else None, edge.row)


@pytest.mark.anyio
async def test_every_edge_value_through_a_load_into_the_simulator() -> None:
    cases = [(f"edge_{index}", edge) for index, edge in enumerate(EDGES)]
    records = [{name: edge.value} for name, edge in cases]
    outcomes: list[Outcome] = []
    async with Simulator(
        properties=[f"{name}:{edge.property}" for name, edge in cases],
        rules=[f"{name}:{edge.rule}" for name, edge in cases if edge.rule],
    ) as sim:
        summary = await bulk_create(
            records, token="sim-token", base_url=sim.url, on_outcome=outcomes.append, rate="1000/1s"
        )
        received = sim.stats().inputs_received
    by_line = {outcome.line: outcome for outcome in outcomes}
    wrong = []
    for line, (_, edge) in enumerate(cases, 1):
        outcome = by_line[line]
        category = outcome.error.category if outcome.error else None
        if edge.verdict == "refused":
            ok = outcome.status == "invalid" and category == edge.code
        elif edge.verdict == "accepted":
            ok = outcome.status == "created"
        else:
            ok = outcome.status in ("created", "failed")
        if not ok:
            wrong.append(f"{edge.row} -> {outcome.status} {category}")
    assert not wrong, "\n".join(wrong)
    assert received == sum(edge.verdict != "refused" for edge in EDGES)
    assert summary.invalid == sum(edge.verdict == "refused" for edge in EDGES)
