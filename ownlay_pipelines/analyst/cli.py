"""`ownlay attribution paths FILE --model …` and `ownlay funnel …`: the analyst models on the
command line. numpy, duckdb and the models are imported inside the handlers (CLI start-up)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PATH_MODEL_NAMES = ("first", "last", "linear", "markov", "shapley")


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


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _attribute_paths(args: argparse.Namespace) -> int:
    from ownlay_pipelines.analyst.path_data import PathFileError, read_path_file
    from ownlay_pipelines.analyst.path_models import PATH_MODELS

    try:
        paths = read_path_file(args.file)
    except OSError as error:
        return _error(f"cannot read {args.file}: {error.strerror or error}")
    except UnicodeDecodeError:
        return _error(f"{args.file} is not UTF-8 text")
    except PathFileError as error:
        return _error(f"{args.file}: {error}")
    credits = PATH_MODELS[args.model](paths)
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
