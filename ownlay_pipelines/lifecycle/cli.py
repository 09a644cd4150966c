"""`ownlay retention` (apply or list the retention windows) and `ownlay gdpr export|delete`.

The same functions the Dagster jobs run; heavy modules are imported in the handlers so the CLI
starts fast.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ownlay_pipelines.lifecycle.retention import RetentionRun
    from ownlay_pipelines.lifecycle.retention_policy import RetentionPolicy


def register_cli(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `retention` and `gdpr` to the `ownlay` command's subparsers."""
    retention = subparsers.add_parser(
        "retention", help="delete data past its retention window (or list it with --dry-run)"
    )
    retention.add_argument(
        "--dry-run", action="store_true", help="list what would be deleted, delete nothing"
    )
    retention.add_argument("--json", action="store_true", help="print the result as JSON")
    retention.set_defaults(handler=_retention)


def _retention(args: argparse.Namespace) -> int:
    import json

    from ownlay_pipelines.lifecycle.retention_policy import RetentionPolicy

    try:
        policy = RetentionPolicy.from_env()
    except ValueError as error:
        print(f"error: {error}")
        return 2
    run = retention_run(policy, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(run.as_json(), indent=2))
        return 0
    print(format_retention(run))
    return 0


def retention_run(policy: RetentionPolicy | None = None, *, dry_run: bool) -> RetentionRun:
    """One retention run over the environment's stores, now (`policy`: the environment's)."""
    from datetime import UTC, datetime

    from ownlay_pipelines.lifecycle.retention import run_retention
    from ownlay_pipelines.lifecycle.retention_policy import RetentionPolicy
    from ownlay_pipelines.lifecycle.stores import stores_from_env

    policy = policy or RetentionPolicy.from_env()
    return run_retention(stores_from_env(), policy, now=datetime.now(UTC), dry_run=dry_run)


def format_retention(run: RetentionRun) -> str:
    """A table of the windows and what a retention run found or deleted, per data type."""
    from ownlay_pipelines.lifecycle.retention_policy import FOREVER, DataType, env_name

    verb = "would delete" if run.dry_run else "deleted"
    lines = [f"Retention ({'dry run' if run.dry_run else 'applied'}):"]
    lines.append(f"  {'data type':<20} {'window':>8}  {verb}")
    counts = run.counts()
    for data_type in DataType:
        days = run.policy.days(data_type)
        window = "forever" if days == FOREVER else f"{days} d"
        count = counts[data_type.value]
        what = f"{count['rows']} rows"
        if count["files"]:
            what += f" in {count['targets']} partition(s), {count['files']} file(s)"
        lines.append(f"  {data_type.value:<20} {window:>8}  {what}   ({env_name(data_type)})")
    for item in run.items:
        lines.append(f"    - {item.data_type.value}: {item.target} ({item.rows} rows)")
    return "\n".join(lines)
