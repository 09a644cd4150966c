"""The `ownlay` command: `demo` runs the pipeline on the sandbox; `rules` and `alerts` manage the
watchtower; `serve` and `keys` run the event ingestion service and manage its API keys; `sql`
queries the warehouse.

Each area registers its subcommands with `register_cli(commands)`. Building the parser imports
no Dagster, DuckDB, pandas or pyarrow — handlers import what they need — so commands that do
not run the pipeline start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ownlay_pipelines.analyst.cli import register_cli as register_analyst_cli
from ownlay_pipelines.capi.cli import register_cli as register_capi_cli
from ownlay_pipelines.cli_support import Refusal
from ownlay_pipelines.events.cli import register_cli as register_events_cli
from ownlay_pipelines.ingest.cli import register_cli as register_ingest_cli
from ownlay_pipelines.lake.warehouse_cli import register_cli as register_warehouse_cli
from ownlay_pipelines.lifecycle.cli import register_cli as register_lifecycle_cli
from ownlay_pipelines.uploads.cli import register_cli as register_uploads_cli
from ownlay_pipelines.watchtower.cli import register_cli as register_watchtower_cli


def _quiet_dagster_warnings() -> None:
    """Beta-API notices and the mixed backfill-policy note are for developers, not demo users."""
    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", message="Asset job .* varying BackfillPolicies")


def _demo(args: argparse.Namespace) -> int:
    from ownlay_pipelines.settings import Mode, Settings

    settings = Settings.from_env()
    if settings.mode is not Mode.SANDBOX:
        print("ownlay demo runs on the sandbox only; unset OWNLAY_MODE or set it to 'sandbox'")
        return 2
    _quiet_dagster_warnings()
    # Imported here so the warning filters above apply while the asset graph is built.
    from ownlay_pipelines.definitions import build_definitions
    from ownlay_pipelines.demo import (
        alert_summary,
        capi_summary,
        prepare_instance,
        run_demo,
        summary,
    )
    from ownlay_pipelines.watchtower.store import open_store

    started = time.perf_counter()
    instance = prepare_instance(Path.cwd())
    defs = build_definitions(settings)
    timings = run_demo(defs, settings, instance, days=args.days)
    print(summary(settings.warehouse_path))
    # The ops store from the environment, as the runs resolved it (the resource holds an EnvVar).
    print(alert_summary(open_store()))
    print(capi_summary(open_store(), settings.registry_file))
    print(f"\nWarehouse: {settings.warehouse_path}")
    print(f"Dagster instance: {Path.cwd() / '.dagster_home'} (`make dev` shows these runs)")
    print("Try:")
    print("  .venv/bin/ownlay sql                 # every view and what it holds")
    print(
        '  .venv/bin/ownlay sql "SELECT platform, sum(spend) FROM '
        'unified_campaign_metrics_daily GROUP BY ALL"'
    )
    print(f"\nDone: {len(timings)} runs in {time.perf_counter() - started:.1f} s wall time.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ownlay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the whole pipeline on the sandbox data")
    demo.add_argument("--days", type=int, default=30, help="days of history to sync (default 30)")
    demo.set_defaults(handler=_demo)
    register_watchtower_cli(commands)
    register_ingest_cli(commands)
    register_events_cli(commands)
    register_warehouse_cli(commands)
    register_uploads_cli(commands)
    register_analyst_cli(commands)
    register_lifecycle_cli(commands)
    register_capi_cli(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except Refusal as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
