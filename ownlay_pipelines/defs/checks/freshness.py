"""Freshness checks on every connector asset, and the sensor that evaluates them.

Each raw table's check fails (WARN) when no sync updated it within two intervals of the slowest
cadence any tier syncs it at (quality/freshness.py), so a stuck schedule, a paused daemon or a
failing connector shows in the UI without anyone looking at runs. Built from the stream specs:
assets sharing a window share one check definition. The checks are asset-level (Dagster's
freshness checks look at the last update of any partition), which is what "is this connector
still syncing" asks. `freshness_checks_sensor` runs them every five minutes.
"""

import warnings
from collections import defaultdict
from datetime import timedelta

import dagster as dg

from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.quality.freshness import freshness_window

FRESHNESS_SENSOR_INTERVAL_SECONDS = 300


def _keys_by_window() -> dict[timedelta, list[dg.AssetKey]]:
    grouped: dict[timedelta, list[dg.AssetKey]] = defaultdict(list)
    for _, spec in all_streams():
        window = freshness_window(spec)
        if window is not None:
            grouped[window].append(dg.AssetKey(list(spec.ref.parts)))
    return dict(sorted(grouped.items()))


with warnings.catch_warnings():
    # Superseded by FreshnessPolicy, which is asset-level only and needs no sensor; these
    # factories remain the way to get freshness as asset checks (reference/dagster.md §2.8).
    warnings.simplefilter("ignore", dg.SupersessionWarning)
    FRESHNESS_CHECKS = [
        check
        for window, keys in _keys_by_window().items()
        for check in dg.build_last_update_freshness_checks(assets=keys, lower_bound_delta=window)
    ]
    freshness_checks_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=FRESHNESS_CHECKS,
        minimum_interval_seconds=FRESHNESS_SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
