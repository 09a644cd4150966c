"""Asset checks: data quality on every raw table, reconciliation of the unified table, freshness
of every connector, and the watchtower's rules on the tables and sources they watch.

`ASSET_CHECKS` run with their asset's materialization (they are in its jobs' selections), except
the freshness checks, which `freshness_checks_sensor` runs on its own.
"""

from ownlay_pipelines.defs.checks.freshness import FRESHNESS_CHECKS, freshness_checks_sensor
from ownlay_pipelines.defs.checks.reconciliation import reconciles_with_raw
from ownlay_pipelines.defs.checks.stream_quality import STREAM_QUALITY_CHECKS
from ownlay_pipelines.defs.checks.watchtower_checks import WATCHTOWER_CHECKS

ASSET_CHECKS = [
    *STREAM_QUALITY_CHECKS,
    reconciles_with_raw,
    *WATCHTOWER_CHECKS,
    *FRESHNESS_CHECKS,
]
CHECK_SENSORS = [freshness_checks_sensor]
