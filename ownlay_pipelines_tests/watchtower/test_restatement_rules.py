"""The shipped ledger rules against the sandbox restating: ordinary maturation stays silent, a
platform correcting settled spend raises an alert naming the account-day."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest

from ownlay_pipelines.connectors import linkedin_ads
from ownlay_pipelines.connectors.restatements import RESTATEMENTS
from ownlay_pipelines.lake.warehouse import create_lake_view
from ownlay_pipelines.lake.writer import read_partition
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox import SandboxWorld
from ownlay_pipelines.sandbox.incidents import Incident, IncidentKind, IncidentPlan
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines.watchtower.engine import evaluate_target
from ownlay_pipelines.watchtower.restatement_rules import LEDGER_RULES, SHIPPED_BY_NAME
from ownlay_pipelines.watchtower.store import open_store
from ownlay_pipelines.watchtower.targets import RESTATEMENT_LEDGER
from ownlay_pipelines_tests.connectors.sandbox_sync import sync_days

REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)
CONNECTOR = linkedin_ads.CONNECTOR
ANALYTICS = next(s for s in CONNECTOR.streams if s.feeds_campaign_metrics)
ACCOUNT = "508000001"
DAY = date(2026, 10, 20)
DAYS = [DAY - timedelta(days=n) for n in range(6)]
SPEND_RULE, VALUE_RULE = (rule.name for rule in LEDGER_RULES)


def _world(now: datetime, incidents: IncidentPlan | None = None) -> SandboxWorld:
    return SandboxWorld(REGISTRY, seed=7, now=now, incidents=incidents)


def _biggest_campaign(world: SandboxWorld) -> str:
    days = world.campaign_days("linkedin_ads", ACCOUNT, DAY, DAY)
    return max(days, key=lambda d: d.spend).campaign_id


@pytest.fixture(scope="module")
def restated_lake(tmp_path_factory):
    """Two syncs of six LinkedIn days: at day+3 the platform still reports a runaway spend on DAY
    (3x for one campaign), at day+25 it has credited it back; conversions mature in between, as
    the sandbox restates them."""
    lake = tmp_path_factory.mktemp("lake")
    campaign = _biggest_campaign(_world(datetime(2026, 10, 24, tzinfo=UTC)))
    spike = IncidentPlan(
        (
            Incident(
                IncidentKind.SPEND_SPIKE, "acme-outdoor", "linkedin_ads", ACCOUNT, campaign,
                DAY, DAY,
            ),
        )
    )  # fmt: skip
    for now, incidents in (
        (datetime(2026, 10, 23, 6, tzinfo=UTC), spike),
        (datetime(2026, 11, 14, 6, tzinfo=UTC), None),
    ):
        sync_days(
            _world(now, incidents), REGISTRY, CONNECTOR, ANALYTICS, "acme-outdoor", lake, DAYS,
            synced_at=now,
        )  # fmt: skip
    return lake


def _warehouse(lake) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    create_lake_view(connection, lake, RESTATEMENTS)
    return connection


def test_the_sandbox_restates_so_the_ledger_has_rows_for_the_days_that_moved(restated_lake):
    ledgers = [
        read_partition(restated_lake, RESTATEMENTS, workspace_id="acme-outdoor", report_date=day)
        for day in DAYS
    ]
    rows = [row for ledger in ledgers if ledger is not None for row in ledger.to_pylist()]
    # The first sync restates nothing; the second adds one row per day whose numbers moved.
    assert DAY in {r["report_date"] for r in rows} and len(rows) == len(
        {r["report_date"] for r in rows}
    )
    assert {r["currency"] for r in rows} == {"USD"}
    assert all(r["conversion_value_after"] >= r["conversion_value_before"] for r in rows)
    assert any(r["conversion_value_after"] > r["conversion_value_before"] for r in rows)


def test_corrected_spend_on_a_settled_day_fires_and_maturation_does_not(restated_lake):
    warehouse = _warehouse(restated_lake)
    spend = SHIPPED_BY_NAME[SPEND_RULE].matches(warehouse)
    value = SHIPPED_BY_NAME[VALUE_RULE].matches(warehouse)

    assert [m.entity for m in spend] == [
        {
            "client_id": "acme-outdoor",
            "platform": "linkedin_ads",
            "account_id": ACCOUNT,
            "report_date": DAY.isoformat(),
        }
    ]
    (match,) = spend
    assert Decimal(match.currents[0]) < Decimal(match.previouses[0]) * Decimal("0.9")
    # Late conversions raised the value of every day, within ordinary maturation: no alert.
    assert value == []


def test_the_ledger_is_a_watchtower_target_and_its_alert_names_the_account_day(
    restated_lake, tmp_path
):
    store = open_store(tmp_path / "ops.sqlite")
    outcomes = evaluate_target(
        RESTATEMENT_LEDGER.name, store=store, warehouse=_warehouse(restated_lake)
    )

    by_name = {o.rule_name: o for o in outcomes}
    assert set(by_name) == {SPEND_RULE, VALUE_RULE}
    (fired,) = by_name[SPEND_RULE].fired
    assert (fired.client_id, fired.entity["report_date"]) == ("acme-outdoor", DAY.isoformat())
    assert len(by_name[SPEND_RULE].opened_alert_ids) == 1 and not by_name[VALUE_RULE].fired
