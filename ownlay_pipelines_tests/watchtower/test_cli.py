"""`ownlay rules …` and `ownlay alerts …` through argparse, as the `ownlay` command runs them."""

from __future__ import annotations

import argparse
import re

import duckdb
import pytest

from ownlay_pipelines.watchtower.alerts import AlertState, list_alerts
from ownlay_pipelines.watchtower.cli import register_cli
from ownlay_pipelines.watchtower.engine import evaluate_target
from ownlay_pipelines.watchtower.store import open_store
from ownlay_pipelines_tests.watchtower.factories import UNIFIED_COLUMNS, put_snapshot, user_rules

RULE_ID = re.compile(r"added rule ([0-9a-f-]{36}) ")
GROUP = "0b5c2a8e-8f21-4b53-9d55-6a3f4c2e1d70"


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ops.sqlite'}"


def ownlay(capsys, *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="ownlay")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    status = args.handler(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_seed_004_examples_work_from_the_command_line(capsys, url):
    def add(*argv: str) -> str:
        status, out, err = ownlay(capsys, "rules", "add", "--database-url", url, *argv)
        assert (status, err) == (0, "")
        return RULE_ID.match(out).group(1)

    add(
        "--source",
        "omnisend/campaigns",
        "--name",
        "Low Open Rate",
        "--field",
        "open_rate",
        "--condition",
        "less_than",
        "--threshold",
        "15",
        "--severity",
        "warning",
        "--notify-immediately",
        "--notify-discord",
        "--discord-channel",
        "123456789",
    )
    add(
        "--name",
        "Low ROAS + High Spend",
        "--field",
        "roas",
        "--condition",
        "less_than",
        "--threshold",
        "2",
        "--group-id",
        GROUP,
        "--logic",
        "AND",
    )
    add(
        "--name",
        "Low ROAS + High Spend (Spend)",
        "--field",
        "spend",
        "--condition",
        "greater_than",
        "--threshold",
        "1000",
        "--group-id",
        GROUP,
        "--logic",
        "AND",
    )
    no_contact = add(
        "--target",
        "communication_reports",
        "--name",
        "No Outreach for 7+ Days",
        "--field",
        "days_since_team_message",
        "--condition",
        "greater_than",
        "--threshold",
        "7",
        "--severity",
        "warning",
    )
    add(
        "--name",
        "Low CVR (No Contact)",
        "--field",
        "cvr",
        "--condition",
        "less_than",
        "--threshold",
        "2",
        "--parent",
        no_contact,
        "--dependency",
        "triggered",
        "--severity",
        "critical",
    )
    status, out, _ = ownlay(capsys, "rules", "list", "--database-url", url)
    assert status == 0
    assert "open_rate less_than 15 on api_records [warning]" in out
    assert f"spend greater_than 1000 on api_records group {GROUP} (AND) [warning]" in out
    assert f"cvr less_than 2 on api_records if parent {no_contact} triggered [critical]" in out
    assert "days_since_team_message greater_than 7 on communication_reports [warning]" in out


@pytest.mark.parametrize("field", ["roas; DROP TABLE x", '"x"--', "../etc"])
def test_injected_field_names_are_refused_with_the_reason(capsys, url, field):
    status, out, err = ownlay(
        capsys,
        "rules",
        "add",
        "--database-url",
        url,
        "--name",
        "bad",
        "--field",
        field,
        "--condition",
        "less_than",
        "--threshold",
        "1",
    )
    assert (status, out) == (2, "")
    assert "is not a column or metric name" in err and "nothing was run" in err
    assert user_rules(open_store(url), include_inactive=True) == []


def test_warehouse_rules_are_checked_against_the_warehouse_file(capsys, url, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(f"CREATE TABLE unified_rows ({UNIFIED_COLUMNS})")
        connection.execute(
            "CREATE VIEW unified_campaign_metrics_daily AS SELECT * FROM unified_rows"
        )
    common = [
        "rules",
        "add",
        "--database-url",
        url,
        "--warehouse",
        str(path),
        "--target",
        "unified/campaign_metrics_daily",
        "--condition",
        "greater_than",
    ]
    assert (
        ownlay(capsys, *common, "--name", "CTR", "--field", "ctr_percent", "--threshold", "50")[0]
        == 0
    )
    status, _, err = ownlay(
        capsys, *common, "--name", "nope", "--field", "ctr", "--threshold", "50"
    )
    assert status == 2 and "known fields: account_id" in err
    status, _, err = ownlay(
        capsys,
        *common[:4],
        "--warehouse",
        str(tmp_path / "missing.duckdb"),
        *common[6:],
        "--name",
        "x",
        "--field",
        "roas",
        "--threshold",
        "1",
    )
    assert status == 2 and "does not exist; build it first" in err


def test_disable_then_list_all(capsys, url):
    _, out, _ = ownlay(
        capsys,
        "rules",
        "add",
        "--database-url",
        url,
        "--name",
        "status watch",
        "--field",
        "status",
        "--condition",
        "changed",
    )
    rule_id = RULE_ID.match(out).group(1)
    assert ownlay(capsys, "rules", "disable", rule_id, "--database-url", url)[1] == (
        f"disabled rule {rule_id} 'status watch'\n"
    )
    assert "status watch" not in ownlay(capsys, "rules", "list", "--database-url", url)[1]
    assert "status watch" in ownlay(capsys, "rules", "list", "--all", "--database-url", url)[1]
    status, _, err = ownlay(
        capsys, "rules", "disable", "00000000-0000-0000-0000-000000000000", "--database-url", url
    )
    assert status == 2 and "does not exist in watchtower_rules" in err


def test_alerts_list_ack_and_mute(capsys, url, clock):
    store = open_store(url)
    ownlay(
        capsys,
        "rules",
        "add",
        "--database-url",
        url,
        "--name",
        "Low CVR",
        "--field",
        "cvr",
        "--condition",
        "less_than",
        "--threshold",
        "2",
    )
    put_snapshot(
        store, clock, "scraper", "cvr", [{"external_id": "2026-11", "metrics": {"cvr": 1.5}}]
    )
    evaluate_target("api_records", store=store, clock=clock)
    (alert,) = list_alerts(store)
    status, out, _ = ownlay(capsys, "alerts", "list", "--database-url", url)
    assert status == 0 and str(alert.id) in out and "firing" in out and "acme-outdoor" in out
    status, out, _ = ownlay(
        capsys, "alerts", "ack", str(alert.id), "--by", "dana@acme.test", "--database-url", url
    )
    assert (status, out) == (0, f"acknowledged alert {alert.id} by dana@acme.test (acknowledged)\n")
    status, out, _ = ownlay(
        capsys, "alerts", "mute", str(alert.id), "--for", "4h", "--database-url", url
    )
    assert status == 0 and out.startswith(f"muted alert {alert.id} until ")
    (listed,) = list_alerts(store, states=[AlertState.ACKNOWLEDGED])
    assert listed.acknowledged_by == "dana@acme.test" and listed.muted_until is not None
    out = ownlay(capsys, "alerts", "list", "--state", "acknowledged", "--database-url", url)[1]
    assert "acknowledged (muted until" in out and "by dana@acme.test" in out
    status, _, err = ownlay(
        capsys, "alerts", "mute", str(alert.id), "--for", "soon", "--database-url", url
    )
    assert status == 2 and "is not a duration such as 30m" in err
    status, _, err = ownlay(
        capsys, "alerts", "ack", str(alert.id), "--by", "sam", "--database-url", url
    )
    assert status == 2 and "already acknowledged by dana@acme.test" in err
