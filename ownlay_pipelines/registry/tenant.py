"""One tenant concept under three names.

Seed 000 calls the tenant `workspace_id`, seed 001 `project_id` (event lake paths) and seed 004
`client_id` (watchtower tables). They are the same value everywhere; this module is the only place
that maps between the names.
"""

import re

TENANT_COLUMN = "workspace_id"
"""Column name used in every lake table and model."""

EVENT_LAKE_TENANT_KEY = "project_id"
"""Hive key seed 001 uses for the tenant in the event lake path."""

WATCHTOWER_TENANT_COLUMN = "client_id"
"""Column seed 004 uses for the tenant in the ops-store tables."""

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62})$")


def validate_workspace_id(value: object, field: str = "workspace_id") -> str:
    """Return `value` if it is a workspace slug, else raise ValueError naming `field` and why.

    A slug is 1–63 lowercase letters, digits, '-' or '_' starting with a letter or digit, so it is
    safe as a path segment, a Dagster partition key and a SQL literal.
    """
    if not isinstance(value, str) or value == "":
        raise ValueError(f"{field} is empty; give a slug such as 'acme-outdoor'")
    if not SLUG_PATTERN.fullmatch(value):
        raise ValueError(
            f"{field} {value!r} is not a slug (lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit, at most 63 characters)"
        )
    return value
