"""`ownlay rules add|list|disable` and `ownlay alerts list|ack|mute`.

`register_cli` adds both command groups to the `ownlay` parser; every handler (`args.handler`, as
in `ownlay_pipelines/cli.py`) takes the parsed arguments, prints its result and returns the exit
status (2 for a refused request, with the reason on stderr). Only light modules are imported
here; the ops store, DuckDB and the rules engine load inside the handlers, so `ownlay --help`
and friends start fast.
"""

from __future__ import annotations

import argparse
import re
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ownlay_pipelines.cli_support import LazyChoices, known_workspace
from ownlay_pipelines.watchtower.conditions import Condition, Dependency, LogicOperator, Severity
from ownlay_pipelines.watchtower.errors import WatchtowerError

if TYPE_CHECKING:
    import duckdb
    import sqlalchemy as sa

    from ownlay_pipelines.watchtower.alerts import AlertView
    from ownlay_pipelines.watchtower.rules import Rule

_DURATION = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_ALERT_STATES = ("firing", "acknowledged", "resolved")
"""`alerts list --state` values besides open/all (watchtower.alerts.AlertState minus ok)."""

RULES_ADD_EXAMPLES = """\
Rates are percents, as in the data: ctr_percent 0.5 means 0.5 % (not 0.005); Omnisend's
open_rate / click_rate / bounce_rate are percents too. roas is a ratio (2.0 = revenue twice spend).

Without --target a rule watches api_records (seed 004's ops records, e.g. --source
omnisend/campaigns); to watch ad metrics pass --target unified/campaign_metrics_daily. Rules on
warehouse targets are checked against the warehouse's columns, so build it first (make demo).

examples:
  # CTR below 0.5 % on one workspace's campaigns
  ownlay rules add --name "Low CTR" --target unified/campaign_metrics_daily \\
      --field ctr_percent --condition less_than --threshold 0.5 --client acme-outdoor
  # Omnisend campaigns whose open rate falls under 15 %
  ownlay rules add --name "Weak opens" --source omnisend/campaigns \\
      --field open_rate --condition less_than --threshold 15 --severity warning
"""


def register_cli(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `rules` and `alerts` command groups to the `ownlay` command's subparsers."""
    rules = subparsers.add_parser("rules", help="add, list and disable watchtower rules")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True)
    _add_rules_add(rules_commands)
    listing = rules_commands.add_parser("list", help="list rules")
    listing.add_argument("--all", action="store_true", help="include disabled rules")
    listing.add_argument("--client", help="only rules of this workspace slug")
    listing.set_defaults(handler=_rules_list)
    disable = rules_commands.add_parser("disable", help="stop evaluating a rule")
    disable.add_argument("rule_id", type=uuid.UUID)
    disable.set_defaults(handler=_rules_disable)

    alerts = subparsers.add_parser("alerts", help="list, acknowledge and mute watchtower alerts")
    alerts_commands = alerts.add_subparsers(dest="alerts_command", required=True)
    alert_list = alerts_commands.add_parser("list", help="list alerts (open ones by default)")
    alert_list.add_argument(
        "--state",
        choices=["open", "all", *_ALERT_STATES],
        default="open",
    )
    alert_list.add_argument("--client", help="only alerts of this workspace slug")
    alert_list.add_argument("--rule", type=uuid.UUID, help="only alerts of this rule id")
    alert_list.add_argument("--limit", type=int, default=100)
    alert_list.set_defaults(handler=_alerts_list)
    ack = alerts_commands.add_parser("ack", help="acknowledge an alert")
    ack.add_argument("alert_id", help="the alert's id or a unique prefix of it (as listed)")
    ack.add_argument("--by", required=True, help="who acknowledges (stored as acknowledged_by)")
    ack.set_defaults(handler=_alerts_ack)
    mute = alerts_commands.add_parser("mute", help="silence an alert's notifications for a while")
    mute.add_argument("alert_id", help="the alert's id or a unique prefix of it (as listed)")
    until = mute.add_mutually_exclusive_group(required=True)
    until.add_argument("--for", dest="duration", help="e.g. 30m, 4h, 2d")
    until.add_argument("--until", help="ISO time, e.g. 2026-11-23T09:00:00+00:00")
    mute.set_defaults(handler=_alerts_mute)

    for parser in (listing, disable, alert_list, ack, mute):
        _add_store_option(parser)


def _add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url", help="ops store URL (default: OWNLAY_DATABASE_URL or data/ops.sqlite)"
    )


def _add_rules_add(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    add = commands.add_parser(
        "add",
        help="add a rule (seed 004's createRule fields)",
        description="Add a watchtower rule; it runs at the next evaluation of its target.",
        epilog=RULES_ADD_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("--name", required=True)
    add.add_argument(
        "--field", dest="field_name", required=True, help="column or metric name of the target"
    )
    add.add_argument("--condition", required=True, choices=[c.value for c in Condition])
    add.add_argument(
        "--threshold",
        dest="threshold_value",
        help="value compared with; rates in percent (0.5 = 0.5 %%), money in the row's currency",
    )
    add.add_argument("--description")
    source = add.add_mutually_exclusive_group()
    source.add_argument("--source", help="provider/endpoint, e.g. omnisend/campaigns")
    source.add_argument("--source-id", type=uuid.UUID)
    add.add_argument(
        "--target",
        dest="target_table",
        choices=LazyChoices(_target_names),
        metavar="TARGET",
        help="what the rule watches (default api_records): %(choices)s",
    )
    add.add_argument(
        "--client",
        dest="client_id",
        type=_known_workspace,
        help="workspace slug the rule is limited to (one of the registry's workspaces)",
    )
    add.add_argument("--group-id", type=uuid.UUID, help="rules sharing it form one compound rule")
    add.add_argument("--logic", dest="logic_operator", choices=[o.value for o in LogicOperator])
    add.add_argument("--parent", dest="parent_rule_id", type=uuid.UUID)
    add.add_argument(
        "--dependency", dest="dependency_condition", choices=[d.value for d in Dependency]
    )
    add.add_argument("--severity", choices=[s.value for s in Severity])
    add.add_argument("--notify-immediately", action=argparse.BooleanOptionalAction)
    add.add_argument("--notify-schedule", choices=["daily", "weekly"])
    add.add_argument("--notify-time", type=time.fromisoformat, help="UTC HH:MM of the digest")
    add.add_argument("--notify-day", dest="notify_day_of_week", type=int, help="0=Sunday … 6")
    add.add_argument("--notify-discord", action="store_true", default=None)
    add.add_argument("--discord-channel", dest="discord_channel_id")
    add.add_argument("--notify-email", action="store_true", default=None)
    add.add_argument("--email", dest="email_recipients", action="append")
    add.add_argument(
        "--warehouse", type=Path, help="warehouse.duckdb to check warehouse fields against"
    )
    _add_store_option(add)
    add.set_defaults(handler=_rules_add)


def _target_names() -> list[str]:
    from ownlay_pipelines.watchtower.targets import TARGETS

    return list(TARGETS)


def _known_workspace(value: str) -> str:
    try:
        return known_workspace(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _run(action: Callable[[], None]) -> int:
    # pydantic's ValidationError is a ValueError subclass.
    try:
        action()
    except (WatchtowerError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _rules_add(args: argparse.Namespace) -> int:
    from ownlay_pipelines.watchtower.rules import RuleSpec, add_rule, source_id_by_name
    from ownlay_pipelines.watchtower.store import open_store

    def action() -> None:
        store = open_store(args.database_url)
        fields = {
            key: getattr(args, key)
            for key in (
                "name",
                "field_name",
                "condition",
                "threshold_value",
                "description",
                "source_id",
                "target_table",
                "client_id",
                "group_id",
                "logic_operator",
                "parent_rule_id",
                "dependency_condition",
                "severity",
                "notify_immediately",
                "notify_schedule",
                "notify_time",
                "notify_day_of_week",
                "notify_discord",
                "discord_channel_id",
                "notify_email",
                "email_recipients",
            )
            if getattr(args, key) is not None
        }
        if args.source:
            with store.connect() as connection:
                fields["source_id"] = source_id_by_name(connection, args.source)
        spec = RuleSpec(**fields)
        warehouse = _open_warehouse(args.warehouse, spec.target_table)
        try:
            rule = add_rule(store, spec, warehouse=warehouse)
        finally:
            if warehouse is not None:
                warehouse.close()
        print(f"added rule {rule.id} {rule.name!r}: {_rule_summary(rule)}")

    return _run(action)


def _open_warehouse(
    path: Path | None, target_table: str | None
) -> duckdb.DuckDBPyConnection | None:
    import duckdb

    from ownlay_pipelines.settings import Settings
    from ownlay_pipelines.watchtower.targets import TARGETS, WarehouseTarget

    if target_table is None or not isinstance(TARGETS.get(target_table), WarehouseTarget):
        return None
    path = path or Settings.from_env().warehouse_path
    if not path.exists():
        raise ValueError(f"warehouse {path} does not exist; build it first or pass --warehouse")
    return duckdb.connect(str(path), read_only=True)


def _rule_summary(rule: Rule) -> str:
    from ownlay_pipelines.watchtower.targets import DEFAULT_TARGET

    threshold = "" if rule.threshold_value is None else f" {rule.threshold_value}"
    group = f" group {rule.group_id} ({rule.logic_operator})" if rule.group_id else ""
    parent = (
        f" if parent {rule.parent_rule_id} {rule.dependency_condition}"
        if rule.parent_rule_id
        else ""
    )
    client = f" for {rule.client_id}" if rule.client_id else ""
    return (
        f"{rule.field_name} {rule.condition}{threshold} on {rule.target_table or DEFAULT_TARGET}{client}"
        f"{group}{parent} [{rule.severity}]"
    )


def _rules_list(args: argparse.Namespace) -> int:
    from ownlay_pipelines.watchtower.rules import list_rules
    from ownlay_pipelines.watchtower.store import open_store

    def action() -> None:
        rules = list_rules(
            open_store(args.database_url), include_inactive=args.all, client_id=args.client
        )
        _print_table(
            ("id", "active", "name", "rule"),
            [(str(r.id), "yes" if r.is_active else "no", r.name, _rule_summary(r)) for r in rules],
        )

    return _run(action)


def _rules_disable(args: argparse.Namespace) -> int:
    from ownlay_pipelines.watchtower.rules import disable_rule
    from ownlay_pipelines.watchtower.store import open_store

    def action() -> None:
        rule = disable_rule(open_store(args.database_url), args.rule_id)
        print(f"disabled rule {rule.id} {rule.name!r}")

    return _run(action)


def _alerts_list(args: argparse.Namespace) -> int:
    from ownlay_pipelines.watchtower.alerts import AlertState, list_alerts
    from ownlay_pipelines.watchtower.store import open_store

    def action() -> None:
        open_states = (AlertState.FIRING, AlertState.ACKNOWLEDGED)
        states = {
            "open": open_states,
            "all": (*open_states, AlertState.RESOLVED),
        }.get(args.state) or (AlertState(args.state),)
        alerts = list_alerts(
            open_store(args.database_url),
            states=states,
            client_id=args.client,
            rule_id=args.rule,
            limit=args.limit,
        )
        _print_table(
            ("id", "state", "severity", "client", "created", "message"),
            [_alert_row(a) for a in alerts],
        )

    return _run(action)


def _alert_row(alert: AlertView) -> tuple[str, ...]:
    from ownlay_pipelines.watchtower.clock import utc_now

    state = alert.state
    if alert.muted_until is not None and alert.muted_until > utc_now():
        state += f" (muted until {alert.muted_until:%Y-%m-%d %H:%M})"
    if alert.acknowledged_by:
        state += f" by {alert.acknowledged_by}"
    return (
        str(alert.id),
        state,
        alert.severity,
        alert.client_id or "-",
        f"{alert.created_at:%Y-%m-%d %H:%M}",
        alert.message,
    )


def _alerts_ack(args: argparse.Namespace) -> int:
    from ownlay_pipelines.watchtower.alerts import acknowledge_alert
    from ownlay_pipelines.watchtower.clock import utc_now

    def action() -> None:
        store = _store(args.database_url)
        alert_id = _alert_id(store, args.alert_id)
        alert = acknowledge_alert(store, alert_id, by=args.by, now=utc_now())
        print(f"acknowledged alert {alert.id} by {alert.acknowledged_by} ({alert.state})")

    return _run(action)


def _alerts_mute(args: argparse.Namespace) -> int:
    from ownlay_pipelines.watchtower.alerts import mute_alert
    from ownlay_pipelines.watchtower.clock import utc_now

    def action() -> None:
        now = utc_now()
        until = _mute_end(args.duration, args.until, now)
        store = _store(args.database_url)
        alert = mute_alert(store, _alert_id(store, args.alert_id), until=until, now=now)
        print(f"muted alert {alert.id} until {until:%Y-%m-%d %H:%M} UTC")

    return _run(action)


def _store(database_url: str | None) -> sa.Engine:
    from ownlay_pipelines.watchtower.store import open_store

    return open_store(database_url)


def _alert_id(store: sa.Engine, text: str) -> uuid.UUID:
    from ownlay_pipelines.watchtower.alerts import alert_id_by_prefix

    return alert_id_by_prefix(store, text)


def _mute_end(duration: str | None, until: str | None, now: datetime) -> datetime:
    if until is not None:
        return datetime.fromisoformat(until)
    match = _DURATION.fullmatch(duration or "")
    if match is None:
        raise ValueError(f"--for {duration!r} is not a duration such as 30m, 4h or 2d")
    return now + timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    if not rows:
        print("(none)")
        return
    widths = [max(len(str(v)) for v in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
