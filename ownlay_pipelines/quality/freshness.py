"""How stale a connector table may get before its freshness check fails.

A stream syncs at its effective cadence: the slower of its seed-000 frequency and its workspace
tier's (orchestration/cadence.py). The asset as a whole is updated whenever any workspace syncs,
so the bound that holds whatever tiers the registry holds is the slowest effective cadence over
all tiers. The check allows two of those intervals: one late or retried sync is normal, two
missed in a row are not.
"""

from __future__ import annotations

from datetime import timedelta

from ownlay_pipelines.connectors.streams import Cadence, StreamSpec
from ownlay_pipelines.orchestration.cadence import CADENCE_INTERVAL, effective_cadence
from ownlay_pipelines.registry.workspaces import Tier

MISSED_SYNCS_TOLERATED = 2
"""Intervals of the slowest cadence a table may go without an update before the check fails."""


def slowest_cadence(spec: StreamSpec) -> Cadence | None:
    """The slowest cadence any tier syncs `spec` at; None when no tier polls it (webhooks)."""
    cadences = [c for tier in Tier if (c := effective_cadence(spec, tier)) is not None]
    return max(cadences, key=CADENCE_INTERVAL.__getitem__) if cadences else None


def freshness_window(spec: StreamSpec) -> timedelta | None:
    """How long `spec`'s table may go without a new sync; None when it is not polled."""
    cadence = slowest_cadence(spec)
    return None if cadence is None else CADENCE_INTERVAL[cadence] * MISSED_SYNCS_TOLERATED
