"""Irregular 2xx answers: the batch was processed, but the body does not account for it the way it should.

``errors_untraced``, ``batch_error_traced`` and ``mixed_echo`` shape the answer while it is built (see
``batch.BatchProcessor``); the faults here change a finished 2xx answer.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from cartloader.simulator.batch import BatchAnswer

#: Faults applied to a finished 2xx answer.
ANSWER_FAULTS = frozenset({"missing_result", "stray_result", "status_not_complete"})
#: Where the stray result's id comes from: far above any id the simulator hands out.
STRAY_ID_BASE = 990_000_000_000


def distort(fault: str, answer: BatchAnswer, rng: random.Random) -> BatchAnswer:
    """``answer`` as ``fault`` spoils it (an answer that is not a 2xx, or has no results to spoil, is kept)."""
    if not 200 <= answer.status < 300:
        return answer
    body = dict(answer.body)
    results: list[dict[str, Any]] = list(body.get("results", []))
    if fault == "missing_result":
        # The object exists; only its result is left out of the answer.
        if results:
            del results[rng.randrange(len(results))]
    elif fault == "stray_result":
        results.insert(rng.randrange(len(results) + 1), _stray(results, rng))
    elif fault == "status_not_complete":
        # Accepted and processed later: HubSpot's batch status enum has PENDING and PROCESSING besides COMPLETE.
        body["status"] = "PENDING"
        results = []
    body["results"] = results
    return replace(answer, body=body)


def _stray(results: list[dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    """A result that belongs to no input of the request: another id, another trace id, other properties."""
    object_id = str(STRAY_ID_BASE + rng.randrange(1_000_000))
    stamp = results[0]["createdAt"] if results else "2026-01-01T00:00:00.000Z"
    stray: dict[str, Any] = {
        "id": object_id,
        "properties": {
            "hs_cart_name": f"stray cart {object_id}",
            "hs_external_cart_id": f"stray-{object_id}",
            "hs_object_id": object_id,
            "hs_createdate": stamp,
            "hs_lastmodifieddate": stamp,
        },
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
    }
    if any("objectWriteTraceId" in result for result in results):
        stray["objectWriteTraceId"] = f"stray-{object_id}"
    if results and "new" in results[0]:
        stray["new"] = True
    return stray
