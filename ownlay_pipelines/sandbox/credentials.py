"""The credentials the sandbox hands each connection: one set per account, as a live deployment has.

Most simulators find the account in the URL (`act_<id>`, `customers/<id>`), but Omnisend knows
the brand only by its API key, so sandbox credentials name the account they belong to.
"""

from __future__ import annotations


def sandbox_credential(name: str, account_id: str) -> str:
    """The sandbox value of credential `name` (e.g. `api_key`) for the account `account_id`."""
    return f"sandbox-{name}-{account_id}"
