"""The `ownlay` command's startup: building the parser imports nothing heavy."""

import json
import subprocess
import sys

HEAVY = ("dagster", "duckdb", "pandas", "pyarrow", "sqlalchemy", "fastapi", "uvicorn")


def _heavy_modules_after(code: str) -> list[str]:
    """Which of `HEAVY` a fresh interpreter has imported after running `code`."""
    script = (
        f"import json, sys\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def test_importing_the_cli_and_building_its_parser_loads_no_heavy_library():
    code = "from ownlay_pipelines.cli import build_parser\nbuild_parser().format_help()"
    assert _heavy_modules_after(code) == []


def test_rules_add_help_loads_only_the_targets_it_lists():
    code = (
        "import contextlib, io\n"
        "from ownlay_pipelines.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['rules', 'add', '--help'])"
    )
    # Listing the watched targets needs the target catalog (SQLAlchemy tables), never Dagster.
    assert _heavy_modules_after(code) == ["sqlalchemy"]
