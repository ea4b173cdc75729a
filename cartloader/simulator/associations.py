"""Associations: which target ids exist, which association types fit which target."""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from cartloader.errors import ConfigError

CART_TYPE_ID = "0-142"
#: Association targets by path name: (object type id, HUBSPOT_DEFINED cart -> target association type id).
#: The type ids are the reference's; the object type ids are HubSpot's documented ones (discounts: assumption).
TARGETS: dict[str, tuple[str, int]] = {
    "contacts": ("0-1", 586),
    "discounts": ("0-84", 588),
    "line_items": ("0-8", 590),
    "orders": ("0-123", 592),
    "quotes": ("0-14", 732),
    "tasks": ("0-27", 728),
    "tickets": ("0-5", 594),
}
TARGETS_BY_ASSOCIATION = {assoc: name for name, (_, assoc) in TARGETS.items()}
TARGETS_BY_TYPE_ID = {type_id: (name, assoc) for name, (type_id, assoc) in TARGETS.items()}
#: associationCategory values (AssociationSpec in spec file PublicApiSpecs/CRM/Carts/Rollouts/424/2026-09/carts.json).
CATEGORIES = frozenset({"HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED", "WORK"})
#: Categories of custom association labels (reference).
CUSTOM_CATEGORIES = ("USER_DEFINED", "INTEGRATOR_DEFINED")
#: Real HubSpot object ids are 9-12 digit numbers (reference).
DEFAULT_ASSOCIATION_IDS = "100000000-999999999999"
_RANGE = re.compile(r"(\d+)(?:-(\d+))?")


class IdRanges(Container[int]):
    """Object ids that exist, as inclusive ranges: ``IdRanges.parse("1-1000,123456789-999999999")``."""

    __slots__ = ("_ranges",)

    def __init__(self, ranges: tuple[tuple[int, int], ...]) -> None:
        self._ranges = ranges

    @classmethod
    def parse(cls, text: str) -> IdRanges:
        """Ranges from ``A-B[,C-D|,E]...``; raise ConfigError for anything else."""
        ranges = []
        for part in text.split(","):
            match = _RANGE.fullmatch(part.strip())
            if match is None:
                raise ConfigError(f"association ids {text!r}: expected ranges like 100000000-999999999999,5")
            low = int(match.group(1))
            high = int(match.group(2) or low)
            if high < low:
                raise ConfigError(f"association ids {part!r}: the range ends before it starts")
            ranges.append((low, high))
        return cls(tuple(ranges))

    def __contains__(self, item: object) -> bool:
        return isinstance(item, int) and any(low <= item <= high for low, high in self._ranges)

    def __repr__(self) -> str:
        return "IdRanges(" + ",".join(f"{low}-{high}" if high != low else str(low) for low, high in self._ranges) + ")"


def target(name: str) -> tuple[str, int] | None:
    """(object type id, cart association type id) of a target named by path name or type id, or None."""
    return TARGETS.get(name) or ((name, TARGETS_BY_TYPE_ID[name][1]) if name in TARGETS_BY_TYPE_ID else None)


def invalid_types(types: Any, expected_type_id: int | None) -> list[str]:
    """The association types of one item that HubSpot would refuse (as ``CATEGORY/ID`` strings)."""
    if not isinstance(types, list) or not types:
        return ["(none)"]
    bad = []
    for kind in types:
        category = kind.get("associationCategory") if isinstance(kind, dict) else None
        type_id = kind.get("associationTypeId") if isinstance(kind, dict) else None
        valid_id = isinstance(type_id, int) and not isinstance(type_id, bool) and type_id > 0
        hubspot_ok = category != "HUBSPOT_DEFINED" or (
            type_id == expected_type_id if expected_type_id is not None else type_id in TARGETS_BY_ASSOCIATION
        )
        if category not in CATEGORIES or not valid_id or not hubspot_ok:
            bad.append(f"{category}/{type_id}")
    return bad


@dataclass(frozen=True, slots=True)
class Label:
    """One custom association label between two object types."""

    from_type: str
    to_type: str
    category: str
    type_id: int
    label: str | None = None

    @classmethod
    def parse(cls, text: str) -> Label:
        """``carts:contacts:USER_DEFINED:42[:Buyer]``; ConfigError otherwise."""
        parts = text.split(":", 4)
        if len(parts) < 4 or parts[2] not in CUSTOM_CATEGORIES or not parts[3].isdigit():
            raise ConfigError(
                f"label {text!r}: expected FROM:TO:CATEGORY:TYPE_ID[:LABEL] with CATEGORY one of "
                f"{', '.join(CUSTOM_CATEGORIES)}"
            )
        return cls(parts[0], parts[1], parts[2], int(parts[3]), parts[4] if len(parts) > 4 else None)
