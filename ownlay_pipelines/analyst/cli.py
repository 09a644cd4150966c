"""`ownlay attribution paths FILE --model …` and `ownlay funnel …`: the analyst models on the
command line. numpy, duckdb and the models are imported inside the handlers (CLI start-up)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ownlay_pipelines.analyst.funnel_definitions import FunnelDefinition

PATH_MODEL_NAMES = ("first", "last", "linear", "markov", "shapley")
BREAKDOWN_NAMES = ("utm_source", "campaign", "device", "country")
# The days `ownlay funnel` accepts: anything wider is a typo (and date arithmetic overflows).
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def register_cli(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `attribution paths` and `funnel` to the `ownlay` command's subparsers."""
    attribution = subparsers.add_parser(
        "attribution", help="credit channels from your own aggregated path file"
    )
    commands = attribution.add_subparsers(dest="attribution_command", required=True)
    paths = commands.add_parser(
        "paths",
        help="per-channel conversions and value from a path file "
        "(path;total_conversions;total_conversion_value;total_null, channels joined by '>')",
    )
    paths.add_argument("file", type=Path)
    paths.add_argument("--model", choices=PATH_MODEL_NAMES, required=True)
    paths.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    paths.set_defaults(handler=_attribute_paths)

    funnel = subparsers.add_parser(
        "funnel",
        help="visitors reaching each step of an ordered funnel (the numbers of marts/funnels)",
    )
    funnel.add_argument("--workspace", required=True)
    chosen = funnel.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--steps", help="event types in order, e.g. page_view,add_to_cart,purchase")
    chosen.add_argument("--funnel", dest="funnel_name", help="a funnel of the workspace's file")
    funnel.add_argument(
        "--window", help="conversion window with --steps: 3600, 30m, 24h, 7d (default 7d)"
    )
    funnel.add_argument(
        "--from", dest="first_day", required=True, help="first local day (YYYY-MM-DD)"
    )
    funnel.add_argument("--to", dest="last_day", required=True, help="last local day (YYYY-MM-DD)")
    funnel.add_argument("--by", choices=BREAKDOWN_NAMES, help="split by the first step's value")
    funnel.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    funnel.set_defaults(handler=_funnel)


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _attribute_paths(args: argparse.Namespace) -> int:
    from ownlay_pipelines.analyst.markov_chain import MarkovTooLarge
    from ownlay_pipelines.analyst.path_data import PathFileError, read_path_file
    from ownlay_pipelines.analyst.path_models import PATH_MODELS

    try:
        paths = read_path_file(args.file)
    except OSError as error:
        return _error(f"cannot read {args.file}: {error.strerror or error}")
    except PathFileError as error:
        return _error(f"{args.file}: {error}")
    try:
        credits = PATH_MODELS[args.model](paths)
    except MarkovTooLarge as error:
        return _error(f"{args.file}: {error}")
    with_effect = args.model == "markov"
    if args.json:
        rows = []
        for credit in credits:
            row = {"channel": credit.channel, "conversions": credit.conversions}
            row["value"] = credit.value
            if with_effect:
                row["removal_effect"] = credit.removal_effect
            rows.append(row)
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len("channel"), *(len(c.channel) for c in credits))
    header = f"{'channel':<{width}}  {'conversions':>14}  {'value':>16}"
    print(header + (f"  {'removal_effect':>14}" if with_effect else ""))
    for credit in credits:
        line = f"{credit.channel:<{width}}  {credit.conversions:>14,.4f}  {credit.value:>16,.4f}"
        print(line + (f"  {credit.removal_effect:>14.6f}" if with_effect else ""))
    total_conversions = sum(c.conversions for c in credits)
    total_value = sum(c.value for c in credits)
    print(f"{'total':<{width}}  {total_conversions:>14,.4f}  {total_value:>16,.4f}")
    return 0


def _funnel(args: argparse.Namespace) -> int:
    import duckdb

    from ownlay_pipelines.analyst.funnel_definitions import (
        DEFAULT_WINDOW_SECONDS,
        FunnelDefinition,
        FunnelDefinitionError,
        load_funnels,
        parse_window,
        step_for,
    )
    from ownlay_pipelines.analyst.funnels import funnel_steps
    from ownlay_pipelines.registry.workspaces import RegistryError, load_registry
    from ownlay_pipelines.settings import Settings

    settings = Settings.from_env()
    try:
        workspace = load_registry(settings.registry_file).get(args.workspace)
    except RegistryError as error:
        return _error(str(error))
    except KeyError as error:
        return _error(error.args[0])
    days = {}
    for flag, text in (("--from", args.first_day), ("--to", args.last_day)):
        try:
            # fromisoformat alone also reads '20261201' and week dates ('2026-W49', a Monday).
            if not DAY.fullmatch(text):
                raise ValueError(text)
            days[flag] = date.fromisoformat(text)
        except ValueError:
            return _error(f"{flag} {text!r} is not a day (YYYY-MM-DD)")
        if days[flag] < FIRST_DAY:
            return _error(f"{flag} {days[flag]} is before {FIRST_DAY}")
        if days[flag] > LAST_DAY:
            return _error(f"{flag} {days[flag]} is after {LAST_DAY}")
    first_day, last_day = days["--from"], days["--to"]
    if first_day > last_day:
        return _error(f"--from {first_day} is after --to {last_day}")
    if args.funnel_name and args.window is not None:
        return _error("--window goes with --steps; a --funnel uses its file's conversion_window")
    try:
        if args.funnel_name:
            known = {f.name: f for f in load_funnels(settings.data_dir, workspace.id)}
            if args.funnel_name not in known:
                return _error(f"no funnel {args.funnel_name!r}; known: {', '.join(known)}")
            funnel = known[args.funnel_name]
        else:
            names = args.steps.split(",")
            for number, name in enumerate(names, start=1):
                if not name.strip():
                    return _error(f"--steps {args.steps!r}: step {number} is empty")
            steps = tuple(step_for(name) for name in names)
            window = DEFAULT_WINDOW_SECONDS if args.window is None else parse_window(args.window)
            funnel = FunnelDefinition("command line", steps, window)
    except FunnelDefinitionError as error:
        return _error(str(error))
    with duckdb.connect(config={"asof_loop_join_threshold": 0}) as connection:
        table = funnel_steps(
            connection,
            settings.lake_dir,
            workspace=workspace,
            funnel=funnel,
            first_day=first_day,
            last_day=last_day,
            by_day=False,
            breakdowns=(args.by,) if args.by else (),
        )
    wanted = args.by or "total"
    rows = [row for row in table.to_pylist() if row["breakdown"] == wanted]
    if args.json:
        print(json.dumps([_funnel_json(row, args.by) for row in rows], indent=2))
    else:
        _print_funnel(funnel, rows, args.by)
    return 0


def _funnel_json(row: dict, by: str | None) -> dict:
    keys = ["step_number", "step_name", "event_type", "visitors", "dropoff"]
    keys += ["conversion_overall", "conversion_from_previous", "median_seconds_from_previous"]
    shown = {key: row[key] for key in keys}
    return {by: row["breakdown_value"], **shown} if by else shown


def _print_funnel(funnel: FunnelDefinition, rows: list[dict], by: str | None) -> None:
    window = funnel.window_seconds
    print(f"funnel {funnel.name!r}, window {window} s ({window / 86_400:g} days)")
    if not rows:
        print("no visitor entered the funnel in that range")
        return
    label = f"{by:<16}" if by else ""
    print(f"{label}{'step':<24}{'visitors':>10}{'dropoff':>10}{'overall':>9}{'median s':>12}")
    for row in rows:
        value = f"{row['breakdown_value'][:15]:<16}" if by else ""
        median = row["median_seconds_from_previous"]
        print(
            f"{value}{str(row['step_number']) + '. ' + row['step_name']:<24}"
            f"{row['visitors']:>10,}{row['dropoff']:>10,}{row['conversion_overall']:>9.1%}"
            f"{'-' if median is None else f'{median:,.1f}':>12}"
        )
