"""`ownlay capi hash`: the normalised value and SHA-256 a platform receives for one field.

For users chasing a match-rate problem: compare what this prints with what the platform's test
tool shows. Exit status 2 with the reason on stderr when the value cannot be normalised.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

PLATFORMS = ("meta", "google", "tiktok", "snapchat")
FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "city",
    "state",
    "zip",
    "country",
    "external_id",
)


def register_cli(commands: Any) -> None:
    """Add the `capi` command group to the `ownlay` parser."""
    capi = commands.add_parser("capi", help="Conversions-API forwarding tools")
    sub = capi.add_subparsers(dest="capi_command", required=True)
    hash_cmd = sub.add_parser("hash", help="print a field's normalised value and its SHA-256")
    hash_cmd.add_argument("--platform", required=True, choices=PLATFORMS)
    hash_cmd.add_argument("--field", required=True, choices=FIELDS)
    hash_cmd.add_argument(
        "--region", default="US", help="default region for phone numbers without +code (US)"
    )
    hash_cmd.add_argument("--json", action="store_true", help='print {"normalized", "sha256"}')
    hash_cmd.add_argument("value", help="the raw value as the customer typed it")
    hash_cmd.set_defaults(handler=_hash)


def _hash(args: argparse.Namespace) -> int:
    from ownlay_pipelines.capi.normalize import (
        CapiPlatform,
        MatchField,
        NormalizationError,
        match_key,
    )

    try:
        key = match_key(
            CapiPlatform(args.platform),
            MatchField(args.field),
            args.value,
            default_region=args.region,
        )
    except NormalizationError as error:
        print(f"ownlay capi hash: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"normalized": key.normalized, "sha256": key.sha256}))
    else:
        print(f"normalized: {key.normalized}")
        print(f"sha256:     {key.sha256 or '(sent as plain text, not hashed)'}")
    return 0
