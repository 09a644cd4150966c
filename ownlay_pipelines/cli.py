"""The `ownlay` command: `demo` runs the pipeline on the sandbox; `rules` and `alerts` manage the
watchtower; `serve` and `keys` run the event ingestion service and manage its API keys."""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import dagster as dg

from ownlay_pipelines.analyst.cli import register_cli as register_analyst_cli
from ownlay_pipelines.ingest.cli import register_cli as register_ingest_cli
from ownlay_pipelines.settings import Mode, Settings
from ownlay_pipelines.watchtower.cli import register_cli as register_watchtower_cli


def _quiet_dagster_warnings() -> None:
    """Beta-API notices and the mixed backfill-policy note are for developers, not demo users."""
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", message="Asset job .* varying BackfillPolicies")


def _demo(args: argparse.Namespace) -> int:
    _quiet_dagster_warnings()
    # Imported here so the warning filters above apply while the asset graph is built.
    from ownlay_pipelines.definitions import build_definitions
    from ownlay_pipelines.demo import (
        EXAMPLE_QUERY,
        alert_summary,
        prepare_instance,
        run_demo,
        summary,
    )

    settings = Settings.from_env()
    if settings.mode is not Mode.SANDBOX:
        print("ownlay demo runs on the sandbox only; unset OWNLAY_MODE or set it to 'sandbox'")
        return 2
    started = time.perf_counter()
    instance = prepare_instance(Path.cwd())
    defs = build_definitions(settings)
    timings = run_demo(defs, settings, instance, days=args.days)
    print(summary(settings.warehouse_path))
    print(alert_summary(defs.resources["ops_store"].engine()))
    print(f"\nWarehouse: {settings.warehouse_path}")
    print(f"Dagster instance: {Path.cwd() / '.dagster_home'} (`make dev` shows these runs)")
    print("Try:")
    print(
        f'  .venv/bin/python -c "import duckdb; '
        f'print(duckdb.connect(\'{settings.warehouse_path}\', read_only=True).sql(\\"{EXAMPLE_QUERY}\\"))"'
    )
    runs = len(timings)
    print(f"\nDone: {runs} runs in {time.perf_counter() - started:.1f} s wall time.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ownlay", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the whole pipeline on the sandbox data")
    demo.add_argument("--days", type=int, default=30, help="days of history to sync (default 30)")
    demo.set_defaults(handler=_demo)
    register_watchtower_cli(commands)
    register_ingest_cli(commands)
    register_analyst_cli(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
