"""HubSpot's error bodies, built the way HubSpot shapes them (every one with a fresh ``correlationId``)."""

from __future__ import annotations

import uuid
from typing import Any

from cartloader.simulator.config import WRITE_SCOPE

JsonObject = dict[str, Any]


def correlation_id() -> str:
    """A fresh correlation id (HubSpot uses uuid4)."""
    return str(uuid.uuid4())


def error(message: str, category: str, **extra: Any) -> JsonObject:
    """The common error envelope: ``status``, ``message``, ``correlationId``, ``category`` plus ``extra``."""
    body: JsonObject = {"status": "error", "message": message, "correlationId": correlation_id(), "category": category}
    body.update(extra)
    return body


def invalid_authentication() -> JsonObject:
    """401: no token, or one HubSpot does not know."""
    return error(
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
        "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        "INVALID_AUTHENTICATION",
    )


def expired_authentication(seconds_ago: int) -> JsonObject:
    """401: an OAuth token that expired ``seconds_ago`` seconds ago."""
    return error(
        f"The OAuth token used to make this call expired {seconds_ago} second(s) ago.",
        "EXPIRED_AUTHENTICATION",
    )


def missing_scopes(required: str = WRITE_SCOPE) -> JsonObject:
    """403: the token lacks the scope the endpoint needs."""
    return error(
        "This app hasn't been granted all required scopes to make this call. Read more about required scopes "
        "here: https://developers.hubspot.com/scopes.",
        "MISSING_SCOPES",
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": [required]},
            }
        ],
    )


def unknown_object_type(object_type: str) -> JsonObject:
    """404: the object type in the path does not exist."""
    return error(f"Unable to infer object type from: {object_type}", "OBJECT_NOT_FOUND")


def object_not_found(object_id: str) -> JsonObject:
    """404: no object with that id."""
    return error("Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND", context={"id": [object_id]})


def property_not_found(name: str) -> JsonObject:
    """404: no property with that name (assumption: HubSpot's wording is not documented)."""
    return error(f"Unable to find property {name}", "OBJECT_NOT_FOUND")


def not_found() -> JsonObject:
    """404 for any path the simulator does not serve."""
    return error("Resource not found", "OBJECT_NOT_FOUND")


def bad_request(message: str, **extra: Any) -> JsonObject:
    """400 VALIDATION_ERROR for a request that is malformed as a whole."""
    return error(message, "VALIDATION_ERROR", **extra)


def rate_limited_ten_secondly(group_name: str) -> JsonObject:
    """429 for the rolling window (``errorType``, not ``category``)."""
    return {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": "TEN_SECONDLY_ROLLING",
        "groupName": group_name,
    }


def rate_limited_daily() -> JsonObject:
    """429 for the daily limit."""
    return {
        "status": "error",
        "message": "You have reached your daily limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": "DAILY",
    }


def locked() -> JsonObject:
    """423: a lock on the portal's records; HubSpot asks for at least 2 seconds before the retry."""
    return error(
        "The resource is locked by another operation. Please retry the request and include a delay of at least "
        "2 seconds.",
        "LOCKED",
    )


def server_error() -> JsonObject:
    """500 after processing."""
    return error("internal error", "INTERNAL_ERROR")


def service_unavailable() -> JsonObject:
    """503 before processing."""
    return error("Service Unavailable: the service is temporarily unable to handle the request.", "UNAVAILABLE")


def migration_in_progress() -> JsonObject:
    """477: the portal is being migrated; come back after ``Retry-After`` seconds."""
    return error(
        "Migration in progress: the account is being moved. Retry after the time given.", "MIGRATION_IN_PROGRESS"
    )


def teapot() -> JsonObject:
    """418: a 4xx no client plans for (HubSpot's gateway has answered unlisted 4xx statuses)."""
    return error("I'm a teapot", "UNEXPECTED_STATUS")


def gateway_page(status: int) -> str:
    """The HTML a gateway answers 413/502/504 with (not JSON: clients must cope)."""
    reason = {413: "Request Entity Too Large", 502: "Bad Gateway", 504: "Gateway Timeout"}.get(status, "Error")
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
