"""The `ownlay` command's startup: building the parser imports nothing heavy."""

import json
import subprocess
import sys

HEAVY = ("dagster", "duckdb", "pandas", "pyarrow", "sqlalchemy", "fastapi", "uvicorn")


def test_importing_the_cli_and_building_its_parser_loads_no_heavy_library():
    script = (
        "import json, sys\n"
        "from ownlay_pipelines.cli import build_parser\n"
        "build_parser().format_help()\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []


def test_rules_add_help_loads_only_the_targets_it_lists():
    script = (
        "import contextlib, io, json, sys\n"
        "from ownlay_pipelines.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['rules', 'add', '--help'])\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    # Listing the watched targets needs the target catalog (SQLAlchemy tables), never Dagster.
    assert json.loads(result.stdout) == ["sqlalchemy"]
