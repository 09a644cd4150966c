"""Sensors, one module per family.

- `models.py`: `models_follow_upstream`, models follow the (workspace, day)s their inputs changed.
- `warehouse.py`: `warehouse_catalog_refresh`, the view catalog follows the set of lake tables.
- `sync_alerts.py`: `sync_failure_alerts` and `sync_recovery`, run-status sensors of syncs.
- `run_scope.py`: what a run covers (shared by the above).

The registry sensor lives in `defs/workspace_sync.py`, event and webhook sensors beside their jobs.
"""

from ownlay_pipelines.defs.sensors.sync_alerts import sync_failure_alerts, sync_recovery
from ownlay_pipelines.defs.sensors.warehouse import warehouse_catalog_refresh

SENSORS = [warehouse_catalog_refresh, sync_failure_alerts, sync_recovery]
"""The fixed sensors of this package; `models_follow_upstream` is built from the assets."""
