"""Turning a plain `CheckOutcome` into Dagster's `AssetCheckResult`."""

import dagster as dg

from ownlay_pipelines.quality.outcome import CheckOutcome


def quality_result(
    outcome: CheckOutcome,
    *,
    asset_key: dg.AssetKey | None = None,
    check_name: str | None = None,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> dg.AssetCheckResult:
    """The check result of `outcome`; lists and dicts in its metadata become JSON metadata."""
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=outcome.passed,
        severity=severity,
        description=outcome.description,
        metadata={
            key: dg.MetadataValue.json(value) if isinstance(value, list | dict) else value
            for key, value in outcome.metadata.items()
        },
    )
