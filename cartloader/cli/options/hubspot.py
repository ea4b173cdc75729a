"""The "HubSpot" options: where batches go (``--base-url``, ``--api-version``, ``--api-path``,
``--object-type``), the token (``--token-file``) and ``--simulate``."""

from __future__ import annotations

import argparse

from cartloader.config import API_VERSIONS, DEFAULT_API_VERSION, DEFAULT_BASE_URL


def add_hubspot_options(group: argparse._ArgumentGroup) -> None:
    """Add the "HubSpot" group's options to ``group``."""
    group.add_argument(
        "--base-url",
        metavar="URL",
        help=f"API origin (default: env HUBSPOT_BASE_URL, else {DEFAULT_BASE_URL})",
    )
    group.add_argument(
        "--api-version",
        metavar="V",
        choices=API_VERSIONS,
        default=DEFAULT_API_VERSION,
        help=f"HubSpot API version, {', '.join(API_VERSIONS)}: the objects path is /crm/v3/objects or "
        f"/crm/objects/V (default {DEFAULT_API_VERSION})",
    )
    group.add_argument(
        "--api-path",
        metavar="PATH",
        help="objects path prefix, overriding --api-version's (default: from --api-version)",
    )
    group.add_argument(
        "--object-type", metavar="NAME", default="carts", help="CRM object type in the path (default carts)"
    )
    group.add_argument(
        "--token-file",
        metavar="PATH",
        help="file holding the access token, re-read when HubSpot says it expired (default: env HUBSPOT_ACCESS_TOKEN)",
    )
    group.add_argument(
        "--simulate",
        action="store_true",
        help="start the built-in HubSpot simulator (HubSpot-like limits and latency) and load into it: "
        "no account or token needed",
    )
