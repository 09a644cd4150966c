"""The watchtower check runs the rules on the unified table inside the pipeline's runs.

Every test starts from the same first metrics run (ten days of acme-outdoor, every platform);
it runs once per module and the rule tests start from a copy of its project directory.
"""

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ownlay_pipelines.definitions import build_definitions
from ownlay_pipelines.defs.partitions import multi_key
from ownlay_pipelines.defs.resources import (
    OpsStoreResource,
    PlatformClientsResource,
    RegistryResource,
)
from ownlay_pipelines.defs.workspace_sync import sync_workspace_partitions
from ownlay_pipelines.lake.warehouse import create_lake_view
from ownlay_pipelines.models.campaign_metrics import UNIFIED_CAMPAIGN_METRICS
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE, Settings
from ownlay_pipelines.watchtower.alerts import list_alerts
from ownlay_pipelines.watchtower.builtin_rules import BUILTIN_RULES
from ownlay_pipelines.watchtower.conditions import Condition, Severity
from ownlay_pipelines.watchtower.rules import RuleSpec, add_rule
from ownlay_pipelines_tests.watchtower.servers import WebhookServer

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
CHECK_KEY = dg.AssetCheckKey(dg.AssetKey(["unified", "campaign_metrics_daily"]), "watchtower")


def _setup(tmp_path: Path) -> tuple[dg.Definitions, OpsStoreResource]:
    registry = RegistryResource(registry_file=str(DEFAULT_REGISTRY_FILE))
    ops_store = OpsStoreResource(database_url=f"sqlite:///{tmp_path / 'ops.sqlite'}")
    defs = build_definitions(
        Settings(data_dir=tmp_path / "data", registry_file=DEFAULT_REGISTRY_FILE),
        resource_overrides={
            "platforms": PlatformClientsResource(registry=registry, sandbox_now=NOW.isoformat()),
            "ops_store": ops_store,
        },
    )
    return defs, ops_store


def _run_metrics(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("daily_metrics").execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": multi_key(date(2026, 11, 10), "acme-outdoor"),
            "dagster/asset_partition_range_end": multi_key(date(2026, 11, 19), "acme-outdoor"),
        },
    )


def _evaluation(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = [
        e for e in result.get_asset_check_evaluations() if e.asset_check_key == CHECK_KEY
    ]
    return evaluation


@pytest.fixture(scope="module")
def first_metrics_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dg.AssetCheckEvaluation]:
    """The first metrics run: its project directory (lake and ops store) and the watchtower
    check's evaluation in it."""
    root = tmp_path_factory.mktemp("first_metrics_run")
    defs, _ = _setup(root)
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, load_registry(DEFAULT_REGISTRY_FILE))
        evaluation = _evaluation(_run_metrics(defs, instance))
    return root, evaluation


def _after_first_run(first_metrics_run: tuple[Path, dg.AssetCheckEvaluation], tmp_path: Path):
    """Put in `tmp_path` what the first metrics run left: its lake and its ops store."""
    root, _ = first_metrics_run
    shutil.copytree(root, tmp_path, dirs_exist_ok=True)


def test_check_runs_builtin_rules_in_the_metrics_run(first_metrics_run):
    _, evaluation = first_metrics_run

    assert evaluation.metadata["rules_evaluated"].value == len(BUILTIN_RULES)
    outcomes = evaluation.metadata["outcomes"].value
    assert {o["rule"] for o in outcomes} >= {"builtin: CTR above 100%", "builtin: ROAS drop"}
    assert all("error" not in o for o in outcomes)


@pytest.mark.slow
def test_user_rule_fires_as_error_with_values_and_never_alerts_twice(
    tmp_path: Path, first_metrics_run
):
    _after_first_run(first_metrics_run, tmp_path)
    defs, ops_store = _setup(tmp_path)
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, load_registry(DEFAULT_REGISTRY_FILE))
        with duckdb.connect() as connection:
            create_lake_view(connection, tmp_path / "data" / "lake", UNIFIED_CAMPAIGN_METRICS)
            add_rule(
                ops_store.engine(),
                RuleSpec(
                    name="Any spend",
                    field_name="spend",
                    condition=Condition.GREATER_THAN,
                    threshold_value="0",
                    target_table="unified/campaign_metrics_daily",
                    client_id="acme-outdoor",
                    severity=Severity.CRITICAL,
                ),
                warehouse=connection,
            )

        first = _evaluation(_run_metrics(defs, instance))
        alerts_after_first = list_alerts(ops_store.engine(), client_id="acme-outdoor")
        second = _evaluation(_run_metrics(defs, instance))
        alerts_after_second = list_alerts(ops_store.engine(), client_id="acme-outdoor")

    assert not first.passed and first.severity == dg.AssetCheckSeverity.ERROR
    outcome = next(o for o in first.metadata["outcomes"].value if o["rule"] == "Any spend")
    assert outcome["fired_count"] > 0
    assert float(outcome["fired"][0]["current_value"]) > 0
    assert outcome["fired"][0]["entity"]["client_id"] == "acme-outdoor"
    user_alerts = [a for a in alerts_after_first if a.rule_name == "Any spend"]
    assert len(user_alerts) == outcome["fired_count"]
    assert first.metadata["alerts_opened"].value >= len(user_alerts)
    assert not second.passed
    assert second.metadata["alerts_opened"].value == 0
    assert len(alerts_after_second) == len(alerts_after_first)


def test_notification_job_delivers_fired_alerts_to_discord_once(
    tmp_path: Path, monkeypatch, first_metrics_run
):
    _after_first_run(first_metrics_run, tmp_path)
    defs, ops_store = _setup(tmp_path)
    with WebhookServer() as discord, dg.instance_for_test() as instance:
        monkeypatch.setenv("OWNLAY_DISCORD_WEBHOOK_URL", discord.url())
        sync_workspace_partitions(instance, load_registry(DEFAULT_REGISTRY_FILE))
        with duckdb.connect() as connection:
            create_lake_view(connection, tmp_path / "data" / "lake", UNIFIED_CAMPAIGN_METRICS)
            add_rule(
                ops_store.engine(),
                RuleSpec(
                    name="Any spend",
                    field_name="spend",
                    condition=Condition.GREATER_THAN,
                    threshold_value="0",
                    target_table="unified/campaign_metrics_daily",
                    client_id="acme-outdoor",
                    severity=Severity.WARNING,
                    notify_discord=True,
                ),
                warehouse=connection,
            )
        _run_metrics(defs, instance)
        notify = defs.resolve_job_def("watchtower_notifications")

        assert notify.execute_in_process(instance=instance).success
        posts_after_first = len(discord.requests)
        assert notify.execute_in_process(instance=instance).success

    assert len(discord.requests) == posts_after_first > 0
    embeds = [embed for request in discord.requests for embed in request["json"]["embeds"]]
    fired = len([a for a in list_alerts(ops_store.engine()) if a.rule_name == "Any spend"])
    assert fired > 0 and len(embeds) == fired
    assert all("Any spend" in embed["title"] for embed in embeds)
    assert all(len(request["json"]["embeds"]) <= 10 for request in discord.requests)
