"""One `watchtower` asset check per watched table: every active rule on it, in one evaluation.

Warehouse targets (the unified table, the daily ROAS mart) are checked on their lake view; each ops source asset
(`ops/omnisend/campaigns`, `ops/internal/clients`, …) is checked with the rules watching that
source (watchtower/source_rules.py), right after its snapshot.

Rules live in the ops store and can be added at any time (`ownlay rules add`), so a check does not
map to one rule: it fails with the worst severity among the rules that fired (critical → ERROR,
warning and info → WARN) and lists every rule's fired entities with current and previous values.
Alerts and their notifications are recorded by the rules engine in the same evaluation.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from ownlay_pipelines.defs.assets.watchtower_sources import WATCHTOWER_SOURCE_ASSETS
from ownlay_pipelines.defs.resources import LakeResource, OpsStoreResource
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.warehouse import create_lake_view, has_files
from ownlay_pipelines.watchtower.engine import evaluate_target
from ownlay_pipelines.watchtower.outcome import RuleOutcome
from ownlay_pipelines.watchtower.source_rules import evaluate_source
from ownlay_pipelines.watchtower.targets import TARGETS, WarehouseTarget


def check_result(outcomes: list[RuleOutcome]) -> dg.AssetCheckResult:
    """The check verdict for a target's rule outcomes: worst failing severity, all metadata."""
    failed = [o for o in outcomes if not o.passed]
    severity = (
        dg.AssetCheckSeverity.ERROR
        if any(o.check_severity == "ERROR" for o in failed)
        else dg.AssetCheckSeverity.WARN
    )
    fired = {o.rule_name: len(o.fired) for o in failed}
    return dg.AssetCheckResult(
        passed=not failed,
        severity=severity,
        description=(
            "no rule fired"
            if not failed
            else "fired: " + ", ".join(f"{name} ({count})" for name, count in fired.items())
        ),
        metadata={
            "rules_evaluated": len(outcomes),
            "rules_fired": len(failed),
            "alerts_opened": sum(len(o.opened_alert_ids) for o in outcomes),
            "alerts_resolved": sum(o.resolved_count for o in outcomes),
            "outcomes": dg.MetadataValue.json([o.metadata() for o in outcomes]),
        },
    )


def build_watchtower_check(ref: TableRef) -> dg.AssetChecksDefinition:
    """The `watchtower` check on the asset of lake table `ref` (a warehouse target)."""

    @dg.asset_check(
        asset=dg.AssetKey(list(ref.parts)),
        name="watchtower",
        description=(
            f"Runs every active watchtower rule on {ref} (built-in performance and consistency "
            "rules plus user rules) over the whole table; records alerts and queues notifications."
        ),
        blocking=False,
    )
    def watchtower_check(
        lake: LakeResource, ops_store: OpsStoreResource, duckdb: DuckDBResource
    ) -> dg.AssetCheckResult:
        if not has_files(lake.lake_root, ref):
            return dg.AssetCheckResult(passed=True, description=f"{ref} has no rows yet")
        with duckdb.get_connection() as connection:
            create_lake_view(connection, lake.lake_root, ref)
            outcomes = evaluate_target(str(ref), store=ops_store.engine(), warehouse=connection)
        return check_result(outcomes)

    return watchtower_check


def build_source_watchtower_check(source_asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    """The `watchtower` check on an ops source asset `ops/<provider>/<endpoint>`."""
    _, provider, endpoint = source_asset.key.path

    @dg.asset_check(
        asset=source_asset.key,
        name="watchtower",
        description=(
            f"Runs every active watchtower rule watching {provider}/{endpoint} on its latest "
            "snapshot per client; records alerts and queues notifications."
        ),
        blocking=False,
    )
    def source_watchtower_check(ops_store: OpsStoreResource) -> dg.AssetCheckResult:
        return check_result(evaluate_source(ops_store.engine(), provider, endpoint))

    return source_watchtower_check


WATCHTOWER_CHECKS = [
    *(
        build_watchtower_check(TableRef.parse(target.name))
        for target in TARGETS.values()
        if isinstance(target, WarehouseTarget)
    ),
    *(build_source_watchtower_check(asset) for asset in WATCHTOWER_SOURCE_ASSETS),
]
"""A check on every warehouse target's asset (the unified table, the daily ROAS mart) and on
every ops source asset."""
