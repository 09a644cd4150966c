"""One `watchtower` asset check per watched table: every active rule on it, in one evaluation.

Rules live in the ops store and can be added at any time (`ownlay rules add`), so a check does not
map to one rule: it fails with the worst severity among the rules that fired (critical → ERROR,
warning and info → WARN) and lists every rule's fired entities with current and previous values.
Alerts and their notifications are recorded by the rules engine in the same evaluation.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from ownlay_pipelines.defs.resources import LakeResource, OpsStoreResource
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.warehouse import create_lake_view, has_files
from ownlay_pipelines.models.campaign_metrics import UNIFIED_CAMPAIGN_METRICS
from ownlay_pipelines.watchtower.engine import evaluate_target
from ownlay_pipelines.watchtower.outcome import RuleOutcome


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


WATCHTOWER_CHECKS = [build_watchtower_check(UNIFIED_CAMPAIGN_METRICS)]
