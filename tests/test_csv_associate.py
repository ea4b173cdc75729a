"""CSV association columns through the command line against the simulator: ``--associate
COLUMN=OBJECTTYPE.PROPERTY[:TYPE_ID]`` resolves each cell (a contact's email) to its object before sending, the
type defaulting to HubSpot's documented one; a property that identifies no single object, a type the portal does not
define, or a pair without a documented type is exit 2 before anything is sent. ``--associate COLUMN=TYPE_ID`` cells
are split on ``;`` and each checked as an id. In upsert mode a refused association names its ids in
``error.details``."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest

from cartloader.input.associations import ColumnAssociation
from cartloader.simulator.config import DEFAULT_SCOPES
from tests.test_cli_support import SimThread, Start, last_entries, run_cli

READ = "POST /crm/objects/2026-09/contacts/batch/read"
CREATE = "POST /crm/objects/2026-09/carts/batch/create"


def links_of(sim: SimThread) -> dict[str, list[tuple[str, int]]]:
    every = sim._call(lambda: dict(sim.sim.associations))
    return {cart: [(link["toObjectId"], link["associationTypeId"]) for link in found] for cart, found in every.items()}


def email_of(row: int) -> str:
    """Row ``row``'s customer: a contact of the portal (customerN, N <= 100) for 7 rows in 10, else unknown; some
    written in capitals."""
    if row % 10 >= 7:
        return f"stranger{row}@shop.test"
    email = f"customer{row % 100 + 1}@example.com"
    return email.upper() if row % 13 == 0 else email


def test_a_csv_column_of_emails_links_each_cart_to_exactly_that_contact(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(contacts=100)
    rows = ["hs_cart_name,customer_email"] + [f"cart {row},{email_of(row)}" for row in range(1, 301)]
    (tmp_path / "carts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = run_cli(
        "carts.csv",
        "--base-url",
        sim.url,
        "--associate",
        "customer_email=contacts.email",
        "--summary-json",
        "summary.json",
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr  # the strangers' carts fail
    entries = last_entries(tmp_path / "carts.outcomes.ndjson")
    links = links_of(sim)
    for row in range(1, 301):
        entry = entries[row + 1]  # the header is line 1
        email = email_of(row)
        if email.lower().startswith("customer"):
            assert entry["status"] == "created", entry
            contact = str(100_000_000 + int(email.lower().removeprefix("customer").split("@")[0]))
            assert links[entry["id"]] == [(contact, 586)]  # HubSpot's documented cart -> contact type
        else:
            assert entry["status"] == "failed" and entry["error"]["category"] == "ASSOCIATION_TARGET_MISSING"
            assert email in entry["error"]["message"]
    stats = sim.stats()
    distinct = {email_of(row).lower() for row in range(1, 301)}
    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    assert summary["lookups"] == stats.by_endpoint[READ] <= math.ceil(len(distinct) / 100) * 1.05
    assert stats.by_endpoint["GET /crm/associations/2026-09/carts/contacts/labels"] == 1


def test_associate_options_the_portal_would_refuse_are_exit_2_before_anything_is_sent(
    tmp_path: Path, simulator: Start
) -> None:
    scopes = DEFAULT_SCOPES | {"crm.schemas.contacts.read"}  # reads which contacts properties are unique
    sim = simulator(contacts=10, labels=("carts:contacts:USER_DEFINED:42:Buyer",), tokens={"sim-token": scopes})
    (tmp_path / "carts.csv").write_text("hs_cart_name,customer\na,customer1@example.com\n", encoding="utf-8")
    cases = {
        "customer=contacts.firstname": ('"firstname" does not identify one object', "email"),
        "customer=contacts.email:1347": ("HUBSPOT_DEFINED/1347", "HUBSPOT_DEFINED/586", "USER_DEFINED/42"),
        "customer=1347": ("HUBSPOT_DEFINED/1347", "HUBSPOT_DEFINED/592 (orders)"),
        "customer=deals.dealname": ("no association type from carts to deals", "customer=deals.dealname:TYPE_ID"),
        "customer=contacts": ("COLUMN=OBJECTTYPE.PROPERTY[:TYPE_ID]",),
    }
    for option, needles in cases.items():
        result = run_cli("carts.csv", "--base-url", sim.url, "--associate", option, "--overwrite", cwd=tmp_path)
        assert result.returncode == 2, (option, result.stderr)
        for needle in needles:
            assert needle in result.stderr, (option, result.stderr)
    stats = sim.stats()
    assert CREATE not in stats.by_endpoint and READ not in stats.by_endpoint  # nothing sent, nothing looked up
    # A token that cannot read the contacts' definitions: one warning, and HubSpot decides.
    other = simulator(contacts=10)
    result = run_cli(
        "carts.csv", "--base-url", other.url, "--associate", "customer=contacts.firstname", "--overwrite", cwd=tmp_path
    )
    assert result.returncode != 2, result.stderr
    assert result.stderr.count("cannot read the properties of contacts") == 1
    assert other.stats().by_endpoint[READ] == 1


def test_csv_id_cells_are_split_on_semicolons_and_each_checked_as_an_id(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    rows = ["hs_cart_name,contact_ids"]
    for row in range(1, 201):
        cell = f"{100_000_000 + row}" if row % 4 else f"{100_000_000 + row}; {200_000_000 + row}"
        rows.append(f"cart {row},{'abc' if row % 50 == 0 else cell}")
    (tmp_path / "carts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = run_cli("carts.csv", "--base-url", sim.url, "--associate", "contact_ids=586", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    entries = last_entries(tmp_path / "carts.outcomes.ndjson")
    links = links_of(sim)
    for row in range(1, 201):
        entry = entries[row + 1]
        if row % 50 == 0:
            assert entry["status"] == "invalid"
            assert "'contact_ids'" in entry["error"]["message"] and '"abc"' in entry["error"]["message"]
            continue
        assert entry["status"] == "created", entry
        expected = [str(100_000_000 + row)] + ([str(200_000_000 + row)] if row % 4 == 0 else [])
        assert [target for target, _ in links[entry["id"]]] == expected
    assert sim.stats().inputs_received == 196


def test_an_upserted_cart_whose_association_is_refused_names_the_ids_in_its_details(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator(unique=("hs_external_cart_id",), association_ids="100000000-199999999")
    lines = [
        orjson.dumps(
            {
                "properties": {"hs_external_cart_id": f"x{i}"},
                "associations": [
                    {
                        "to": {"id": str(100_000_000 + i if i % 10 else 900_000_000 + i)},
                        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 586}],
                    }
                ],
            }
        )
        for i in range(1, 201)
    ]
    (tmp_path / "carts.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    result = run_cli(
        "carts.ndjson", "--base-url", sim.url, "--upsert-by", "hs_external_cart_id", "--api-version", "v3", cwd=tmp_path
    )
    assert result.returncode == 1, result.stderr
    entries = last_entries(tmp_path / "carts.outcomes.ndjson")
    for line in range(1, 201):
        entry = entries[line]
        if line % 10:
            assert entry["status"] == "created", entry
            continue
        assert entry["status"] == "failed" and entry["error"]["category"] == "ASSOCIATION_FAILED", entry
        details = entry["error"]["details"]
        assert {"property": "associations", "code": "INVALID_OBJECT_IDS", "value": str(900_000_000 + line)} in [
            {key: d[key] for key in ("property", "code", "value")} for d in details
        ]


@pytest.mark.parametrize(
    "column",
    [
        ColumnAssociation("contact_ids", 586),
        ColumnAssociation("customer_email", 586, "contacts", "email"),
        ColumnAssociation("order", 592, "orders", "shop_order_id"),
    ],
)
def test_an_association_column_is_read_back_as_the_meta_file_recorded_it(column: ColumnAssociation) -> None:
    # reconcile reads the input again with the layout the meta file recorded (cartloader/reconcile/inputs.py).
    assert ColumnAssociation.described(column.column, column.describe()) == column


@pytest.mark.parametrize("recorded", ["contacts.email", "contacts:586", ".email:586", True, None, "586"])
def test_a_recorded_association_column_that_is_not_one_is_refused(recorded: object) -> None:
    with pytest.raises(ValueError, match="is not a recorded association column"):
        ColumnAssociation.described("c", recorded)
