"""The association types (labels) the portal defines for a pair of object types, and the routes this package adds
for the objects carts associate with.

    GET /crm/associations/{v4|2026-03|2026-09}/{from}/{to}/labels      (and /crm/v4/associations/{from}/{to}/labels)
    -> {"results": [{"category": "HUBSPOT_DEFINED", "typeId": 586, "label": null}, ...]}

Spec: CRM "Associations Schema", rollout 130902 (reference). HUBSPOT_DEFINED types are the ones HubSpot's carts guide
documents for carts (cart -> contact 586, ...); custom labels (USER_DEFINED or INTEGRATOR_DEFINED) are configured
as ``FROM:TO:CATEGORY:TYPE_ID[:LABEL]``. An unknown object type is a 404. Reading labels needs a read scope of the
first object type, ``crm.objects.carts.read`` (assumption: HubSpot's scope for the schema endpoint is not
documented in the reference); a token without it is answered 403 ``MISSING_SCOPES``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from cartloader.simulator import bodies
from cartloader.simulator.associations import TARGETS, Label
from cartloader.simulator.contacts import UNIQUE_PROPERTY, Directory, read_scope, schema_scope

Handler = Callable[[web.Request, int], Awaitable[web.Response]]
Admit = Callable[[web.Request, tuple[str, ...]], tuple[dict[str, str], web.Response | None]]
Json = Callable[[int, Any, dict[str, str]], web.Response]


def labels_json(from_type: str, to_type: str, custom: Sequence[Label]) -> dict[str, Any] | None:
    """The labels of the pair, or None when HubSpot knows no such pair."""
    if from_type not in ("carts", "0-142") or to_type not in TARGETS:
        return None
    results: list[dict[str, Any]] = [{"category": "HUBSPOT_DEFINED", "typeId": TARGETS[to_type][1], "label": None}]
    results += [
        {"category": label.category, "typeId": label.type_id, "label": label.label}
        for label in custom
        if label.from_type in (from_type, "carts") and label.to_type == to_type
    ]
    return {"results": results}


def routes(directory: Directory, custom: Sequence[Label], admit: Admit, json: Json) -> list[tuple[str, str, Handler]]:
    """(method, path, handler) of the batch reads of contacts and orders, their property definitions, and the
    labels, on every path family; registered before the simulator's generic routes."""
    dated = "{version:2026-03|2026-09}"

    async def batch_read(request: web.Request, request_no: int) -> web.Response:
        object_type = request.match_info["target"]
        headers, refusal = admit(request, (read_scope(object_type),))
        if refusal is not None:
            return refusal
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return json(400, bodies.bad_request(f"Invalid input JSON on line 1: {exc}"), headers)
        status, answer = directory.batch_read(object_type, body, inline_errors="version" in request.match_info)
        return json(status, answer, headers)

    async def properties(request: web.Request, request_no: int) -> web.Response:
        object_type = request.match_info["target"]
        headers, refusal = admit(request, (schema_scope(object_type),))
        if refusal is not None:
            return refusal
        return json(200, directory.properties_json(object_type), headers)

    async def labels(request: web.Request, request_no: int) -> web.Response:
        from_type, to_type = request.match_info["from_type"], request.match_info["to_type"]
        headers, refusal = admit(request, ("crm.objects.carts.read",))
        if refusal is not None:
            return refusal
        found = labels_json(from_type, to_type, custom)
        if found is None:
            return json(404, bodies.unknown_object_type(to_type), headers)
        return json(200, found, headers)

    targets = "{target:" + "|".join(UNIQUE_PROPERTY) + "}"
    found: list[tuple[str, str, Handler]] = []
    for objects in ("/crm/v3/objects", f"/crm/objects/{dated}"):
        found.append(("POST", f"{objects}/{targets}/batch/read", batch_read))
    for path in ("/crm/v3/properties", f"/crm/properties/{dated}"):
        found.append(("GET", f"{path}/{targets}", properties))
    for path in ("/crm/v4/associations", "/crm/associations/{version:v4}", f"/crm/associations/{dated}"):
        found.append(("GET", path + "/{from_type}/{to_type}/labels", labels))
    return found


def endpoint_name(request: web.Request) -> str:
    """``POST /crm/associations/2026-09/carts/contacts/batch/create``: the route's path with the version, object
    types and operation filled in, object ids and property names left as ``{...}``."""
    info = request.match_info
    route = info.route
    resource = route.resource
    path = resource.canonical if resource is not None else request.path
    for name in ("version", "object_type", "to_type", "from_type", "target", "op"):
        value = info.get(name)
        if value is not None:
            path = path.replace("{" + name + "}", value)
    if "{path}" in path:
        path = "{other}"
    return f"{request.method} {path}"


def _contacts(text: str) -> int | tuple[str, ...]:
    """``--contacts N`` or ``--contacts @FILE`` (one email a line)."""
    if text.startswith("@"):
        try:
            lines = Path(text[1:]).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"cannot read {text[1:]}: {exc.strerror}") from None
        return tuple(line.strip() for line in lines if line.strip())
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a count or @FILE of emails, not {text!r}")
    return int(text)


def add_directory_options(parser: argparse.ArgumentParser) -> None:
    """The simulator's switches for contacts, orders and custom association labels."""
    parser.add_argument(
        "--contacts",
        type=_contacts,
        default=0,
        metavar="N|@FILE",
        help="contacts of the portal (email unique), readable by batch read with idProperty=email: N of them "
        "(customerI@example.com, ids from 100000001) or the emails of FILE, one a line (default 0)",
    )
    parser.add_argument(
        "--orders",
        type=int,
        default=0,
        metavar="N",
        help="orders with the unique custom property shop_order_id = SO-I (ids from 200000001; default 0)",
    )
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="FROM:TO:CATEGORY:TYPE_ID[:LABEL]",
        help="a custom association label served by the labels API beside HubSpot's documented types, e.g. "
        "carts:contacts:USER_DEFINED:42:Buyer (repeatable)",
    )


def directory_fields(args: argparse.Namespace) -> dict[str, object]:
    """The ``SimulatorConfig`` fields of those switches."""
    return {"contacts": args.contacts, "orders": args.orders, "labels": tuple(args.label)}
