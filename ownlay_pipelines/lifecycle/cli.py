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
    from ownlay_pipelines.lifecycle.stores import Stores
    from ownlay_pipelines.lifecycle.subject import DataSubject


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
    gdpr = subparsers.add_parser("gdpr", help="export or erase one person's data (GDPR)")
    actions = gdpr.add_subparsers(dest="gdpr_action", required=True)
    export = actions.add_parser("export", help="write every row about the person to one JSON file")
    _subject_arguments(export)
    export.add_argument("--out", help="JSON file to write (default gdpr-export-<ws>-<time>.json)")
    export.set_defaults(handler=_gdpr_export)
    delete = actions.add_parser(
        "delete", help="erase the person from every store and drop their later events"
    )
    _subject_arguments(delete)
    delete.set_defaults(handler=_gdpr_delete)


def _subject_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", required=True, help="workspace id")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="the person's e-mail (matched through its keyed hash)")
    who.add_argument("--user-id", help="the user id the site sends")
    who.add_argument("--anonymous-id", help="the anonymous id the tracking SDK sends")
    parser.add_argument(
        "--requested-by", help="who asked, for the audit log (default: the OS user)"
    )


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


def _subject_from_args(args: argparse.Namespace) -> tuple[Stores, DataSubject]:
    """(stores, subject) of a gdpr command, or raises ValueError naming the bad input."""
    from ownlay_pipelines.lifecycle.stores import stores_from_env
    from ownlay_pipelines.lifecycle.subject import DataSubject, IdentifierKind
    from ownlay_pipelines.privacy.keyed_hash import PiiHasher, PiiKeyMissing

    if args.email is not None:
        kind, value = IdentifierKind.EMAIL, args.email
    elif args.user_id is not None:
        kind, value = IdentifierKind.USER_ID, args.user_id
    else:
        kind, value = IdentifierKind.ANONYMOUS_ID, args.anonymous_id
    try:
        hasher = PiiHasher.from_env()
    except PiiKeyMissing as error:
        raise ValueError(str(error)) from None
    subject = DataSubject.of(args.workspace, kind, value, hasher)
    return stores_from_env(), subject


def _requested_by(args: argparse.Namespace) -> str:
    import getpass

    return args.requested_by or f"cli:{getpass.getuser()}"


def _gdpr_export(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime
    from pathlib import Path

    from ownlay_pipelines.lifecycle.gdpr import export_subject, write_export

    try:
        stores, subject = _subject_from_args(args)
    except ValueError as error:
        print(f"error: {error}")
        return 2
    now = datetime.now(UTC)
    result = export_subject(stores, subject, requested_by=_requested_by(args), now=now)
    out = Path(args.out or f"gdpr-export-{args.workspace}-{now:%Y%m%dT%H%M%SZ}.json")
    write_export(result.document, out)
    print(f"wrote {out}: " + ", ".join(f"{k} {v}" for k, v in result.counts.items()))
    return 0


def _gdpr_delete(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from ownlay_pipelines.lifecycle.gdpr import delete_subject

    try:
        stores, subject = _subject_from_args(args)
    except ValueError as error:
        print(f"error: {error}")
        return 2
    result = delete_subject(
        stores, subject, requested_by=_requested_by(args), now=datetime.now(UTC)
    )
    print("deleted: " + ", ".join(f"{k} {v}" for k, v in result.counts.items()))
    print("later events of this person are dropped at ingest (suppression list)")
    return 0
