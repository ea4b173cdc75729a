"""What the simulator remembers: stored objects, their unique-value index, and request statistics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One CRM object as the simulator stores it (properties normalized, system properties included)."""

    id: str
    properties: dict[str, str]
    trace_id: str | None
    request_no: int
    created_at: str
    updated_at: str

    def to_json(self) -> dict[str, Any]:
        """The object as ``GET /_sim/objects`` shows it."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SimStats:
    """A snapshot of what the simulator has seen since it started (or since ``reset_stats()``).

    ``requests`` counts API requests (not ``/_sim/*``); ``by_status`` answers by HTTP status (a dropped
    connection has none); ``rate_limited`` 429s by policy name; ``faults_injected`` faults by name.
    """

    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    rate_limited: dict[str, int] = field(default_factory=dict)
    peak_concurrency: int = 0
    faults_injected: dict[str, int] = field(default_factory=dict)
    objects_created: int = 0
    objects_updated: int = 0
    inputs_received: int = 0
    in_flight: int = 0
    objects_stored: int = 0
    #: Requests by endpoint: ``METHOD /path`` with the version and object types filled in, ids left as ``{...}``.
    by_endpoint: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The snapshot as ``GET /_sim/stats`` shows it (status codes become string keys)."""
        data = asdict(self)
        data["by_status"] = {str(status): count for status, count in sorted(self.by_status.items())}
        return data


class StatsRecorder:
    """Mutable counters behind ``SimStats``; every update is a plain attribute or dict operation."""

    __slots__ = (
        "by_endpoint",
        "by_status",
        "faults_injected",
        "in_flight",
        "inputs_received",
        "objects_created",
        "objects_updated",
        "peak_concurrency",
        "rate_limited",
        "request_counter",
        "requests",
    )

    def __init__(self) -> None:
        self.request_counter = 0  # never reset: numbers requests for StoredObject.request_no
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Zero every counter (request numbering and the in-flight count go on)."""
        self.requests = 0
        self.by_status: dict[int, int] = {}
        self.by_endpoint: dict[str, int] = {}
        self.rate_limited: dict[str, int] = {}
        self.peak_concurrency = self.in_flight
        self.faults_injected: dict[str, int] = {}
        self.objects_created = 0
        self.objects_updated = 0
        self.inputs_received = 0

    def begin(self) -> int:
        """Count a new API request and return its number."""
        self.requests += 1
        self.request_counter += 1
        self.in_flight += 1
        if self.in_flight > self.peak_concurrency:
            self.peak_concurrency = self.in_flight
        return self.request_counter

    def end(self) -> None:
        """A request finished (answered or dropped)."""
        self.in_flight -= 1

    def endpoint(self, name: str) -> None:
        """Count one request by endpoint."""
        self.by_endpoint[name] = self.by_endpoint.get(name, 0) + 1

    def status(self, status: int) -> None:
        """Count one answer by HTTP status."""
        self.by_status[status] = self.by_status.get(status, 0) + 1

    def snapshot(self, objects_stored: int) -> SimStats:
        """A frozen copy of the counters."""
        return SimStats(
            requests=self.requests,
            by_status=dict(self.by_status),
            rate_limited=dict(self.rate_limited),
            peak_concurrency=self.peak_concurrency,
            faults_injected=dict(self.faults_injected),
            objects_created=self.objects_created,
            objects_updated=self.objects_updated,
            inputs_received=self.inputs_received,
            in_flight=self.in_flight,
            by_endpoint=dict(self.by_endpoint),
            objects_stored=objects_stored,
        )


class ObjectStore:
    """Objects by id plus, for each unique property, value -> id.

    With ``keep=False`` nothing is kept (bounded memory): ids are still handed out, but lookups find
    nothing and unique values are not checked.
    """

    __slots__ = ("_next_id", "associations", "by_unique", "keep", "objects")

    def __init__(self, unique: tuple[str, ...], *, keep: bool, first_id: int) -> None:
        self.keep = keep
        self.objects: dict[str, StoredObject] = {}
        #: Associations by source object id: ``{"toObjectId", "associationCategory", "associationTypeId"}`` each.
        self.associations: dict[str, list[dict[str, Any]]] = {}
        self.by_unique: dict[str, dict[str, str]] = {name: {} for name in unique}
        self._next_id = first_id

    def new_id(self) -> str:
        """A fresh object id."""
        object_id = self._next_id
        self._next_id += 1
        return str(object_id)

    def owner(self, prop: str, value: str) -> str | None:
        """The id of the object holding ``value`` in unique property ``prop``, if any."""
        index = self.by_unique.get(prop)
        return index.get(value) if index is not None else None

    def put(self, obj: StoredObject, previous: StoredObject | None = None) -> None:
        """Store (or replace) an object and index its unique values."""
        if not self.keep:
            return
        if previous is not None:
            for prop, index in self.by_unique.items():
                old = previous.properties.get(prop)
                if old is not None and index.get(old) == previous.id:
                    del index[old]
        self.objects[obj.id] = obj
        for prop, index in self.by_unique.items():
            value = obj.properties.get(prop)
            if value:
                index[value] = obj.id

    def associate(self, object_id: str, to_id: str, category: str, type_id: int) -> None:
        """Remember one association of object ``object_id`` (once; nothing with ``keep=False``)."""
        if not self.keep:
            return
        link = {"toObjectId": to_id, "associationCategory": category, "associationTypeId": type_id}
        links = self.associations.setdefault(object_id, [])
        if link not in links:
            links.append(link)

    def associate_all(self, object_id: str, associations: Any) -> None:
        """Remember the (already validated) ``associations`` of a create input."""
        for item in associations or ():
            for kind in item["types"]:
                self.associate(object_id, str(item["to"]["id"]), kind["associationCategory"], kind["associationTypeId"])

    def view(self) -> Mapping[str, StoredObject]:
        """A read-only view of the objects by id."""
        return MappingProxyType(self.objects)
