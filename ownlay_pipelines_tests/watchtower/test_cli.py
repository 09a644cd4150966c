"""`ownlay rules …` and `ownlay alerts …` through argparse, as the `ownlay` command runs them."""

from __future__ import annotations

import argparse
import re
import shlex
import uuid

import duckdb
import pytest
import sqlalchemy as sa

from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines.watchtower.alerts import AlertState, list_alerts
from ownlay_pipelines.watchtower.cli import RULES_ADD_EXAMPLES, register_cli
from ownlay_pipelines.watchtower.engine import evaluate_target
from ownlay_pipelines.watchtower.store import open_store
from ownlay_pipelines.watchtower.tables import watchtower_alerts
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


def _low_cvr_alert(capsys, url, clock) -> uuid.UUID:
    """Add a Low CVR rule through the CLI and open its one alert; returns the alert id."""
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
    store = open_store(url)
    put_snapshot(
        store, clock, "scraper", "cvr", [{"external_id": "2026-11", "metrics": {"cvr": 1.5}}]
    )
    evaluate_target("api_records", store=store, clock=clock)
    (alert,) = list_alerts(store)
    return alert.id


def test_alerts_list_ack_and_mute(capsys, url, clock):
    store = open_store(url)
    _low_cvr_alert(capsys, url, clock)
    (alert,) = list_alerts(store)
    status, out, _ = ownlay(capsys, "alerts", "list", "--database-url", url)
    assert status == 0 and str(alert.id) in out and "firing" in out and "acme-outdoor" in out
    status, out, _ = ownlay(
        capsys, "alerts", "ack", str(alert.id)[:8], "--by", "dana@acme.test", "--database-url", url
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


def test_alerts_ack_refuses_an_ambiguous_or_unknown_prefix(capsys, url, clock):
    first = _low_cvr_alert(capsys, url, clock)
    # A second alert whose id differs from the first only in its last hex digit.
    twin = uuid.UUID(first.hex[:-1] + ("0" if first.hex[-1] != "0" else "1"))
    store = open_store(url)
    with store.begin() as connection:
        row = dict(
            connection.execute(sa.select(watchtower_alerts).where(watchtower_alerts.c.id == first))
            .mappings()
            .one()
        )
        connection.execute(watchtower_alerts.insert().values({**row, "id": twin}))

    status, _, err = ownlay(
        capsys, "alerts", "ack", str(first)[:8], "--by", "sam", "--database-url", url
    )
    assert status == 2
    assert f"alert id prefix '{str(first)[:8]}' matches 2 alerts" in err
    assert str(first) in err and str(twin) in err and "give more characters" in err
    absent = next(c for c in "0123456789abcdef" if c != first.hex[0]) * 4
    status, _, err = ownlay(capsys, "alerts", "ack", absent, "--by", "s", "--database-url", url)
    assert (status, err) == (2, f"error: no alert id starts with '{absent}'\n")
    status, _, err = ownlay(capsys, "alerts", "ack", "xyz", "--by", "s", "--database-url", url)
    assert (status, err) == (2, "error: alert id 'xyz' is not a hexadecimal id or id prefix\n")
    status, out, _ = ownlay(
        capsys, "alerts", "ack", str(twin), "--by", "sam", "--database-url", url
    )
    assert status == 0 and out.startswith(f"acknowledged alert {twin} by sam")


def test_rules_add_refuses_an_unknown_workspace_listing_the_known_ones(capsys, url):
    with pytest.raises(SystemExit) as exited:
        ownlay(
            capsys,
            "rules",
            "add",
            "--database-url",
            url,
            "--name",
            "x",
            "--field",
            "status",
            "--condition",
            "changed",
            "--client",
            "acme",
        )
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert (
        f"argument --client: unknown workspace 'acme'; the registry ({DEFAULT_REGISTRY_FILE.resolve()}) "
        "lists: acme-outdoor, blumen-haus, kumo-tea"
    ) in err
    assert user_rules(open_store(url), include_inactive=True) == []


def test_rules_add_help_gives_units_targets_and_examples_that_work(capsys, url, tmp_path):
    with pytest.raises(SystemExit):
        ownlay(capsys, "rules", "add", "--help")
    help_text = capsys.readouterr().out
    assert "Rates are percents" in help_text and "ctr_percent 0.5 means 0.5 %" in help_text
    assert "unified/campaign_metrics_daily" in help_text.split("  --target TARGET")[1]
    assert "api_records, clients, communication_reports" in help_text

    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(f"CREATE TABLE unified_rows ({UNIFIED_COLUMNS})")
        connection.execute(
            "CREATE VIEW unified_campaign_metrics_daily AS SELECT * FROM unified_rows"
        )
    joined = RULES_ADD_EXAMPLES.split("examples:")[1].replace("\\\n", " ")
    examples = [
        shlex.split(line) for line in joined.splitlines() if line.strip().startswith("ownlay ")
    ]
    assert len(examples) == 2
    for example in examples:
        argv = example[example.index("ownlay") + 1 :]
        status, out, err = ownlay(
            capsys, *argv, "--database-url", url, "--warehouse", str(warehouse)
        )
        assert (status, err) == (0, ""), argv
        assert RULE_ID.match(out)
    assert len(user_rules(open_store(url))) == 2
