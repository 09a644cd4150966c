"""Every command in README.md's fenced bash/sql blocks runs, as written where it can.

Each command has a plan in `PLANS`: `Run` (exactly as written), `RunAs` (a stated substitute,
e.g. a test port or a filled-in placeholder) or `NotRun` (with the reason). A README command
without a plan fails the test, so nothing is skipped silently. The commands run in one bash
session, in README order, in a scratch project directory whose `.venv` is this one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

PROJECT = Path(__file__).resolve().parents[1]
README = PROJECT / "README.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
TRAILING_COMMENT = re.compile(r"\s{2,}#\s.*$")
SERVE_PORT = 18510
"""In the checks-cli engineer's port range; the README's 8080 may be taken on a CI machine."""


@dataclass(frozen=True)
class Run:
    """Run the command as written; `expect` must appear in its output."""

    expect: str = ""


@dataclass(frozen=True)
class RunAs:
    """Run `script` instead, for the stated reason; `expect` must appear in its output."""

    script: str
    why: str
    expect: str = ""


@dataclass(frozen=True)
class NotRun:
    why: str


OPEN_AN_ALERT = """\
.venv/bin/python - <<'PY'
from ownlay_pipelines.watchtower.engine import evaluate_target
from ownlay_pipelines.watchtower.rules import RuleSpec, add_rule
from ownlay_pipelines.watchtower.store import open_store
import duckdb
store = open_store()
add_rule(store, RuleSpec(name="readme test: any spend", field_name="spend",
    condition="greater_than", threshold_value="0", client_id="acme-outdoor",
    target_table="unified/campaign_metrics_daily"),
    warehouse=duckdb.connect("data/warehouse.duckdb", read_only=True))
evaluate_target("unified/campaign_metrics_daily", store=store,
    warehouse=duckdb.connect("data/warehouse.duckdb", read_only=True))
PY
ALERT_PREFIX=$(.venv/bin/ownlay alerts list --client acme-outdoor | awk 'NR == 2 {print substr($1, 1, 8)}')
.venv/bin/ownlay alerts ack "$ALERT_PREFIX" --by maria
"""

SERVE_AND_POST = f"""\
KEY=$(.venv/bin/ownlay keys create acme-outdoor --label readme-test | sed -n 2p)
.venv/bin/ownlay serve --port {SERVE_PORT} > serve.log 2>&1 &
SERVER=$!
.venv/bin/python - "$KEY" <<'PY'
import sys, time, uuid
from datetime import UTC, datetime
import httpx
event = {{"event_id": str(uuid.uuid4()), "event_type": "page_view",
    "timestamp": datetime.now(UTC).isoformat(), "anonymous_id": "readme-visitor",
    "source": {{"platform": "webhook"}}, "properties": {{}}, "context": {{}}}}
deadline = time.monotonic() + 60
while True:
    try:
        response = httpx.post("http://127.0.0.1:{SERVE_PORT}/api/v1/events", json=event,
            headers={{"X-Ownlay-Api-Key": sys.argv[1]}})
        break
    except httpx.TransportError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.2)
print("POST /api/v1/events", response.status_code, response.text[:300])
PY
kill $SERVER
wait $SERVER || true
"""

MY_PATHS = """\
printf 'path;total_conversions;total_conversion_value;total_null\\n' > my_paths.csv
printf 'meta_ads > google_ads;3;300;5\\ngoogle_ads;2;150;10\\n' >> my_paths.csv
"""

UPLOAD_CSV = """\
.venv/bin/python - <<'PY'
lines = ["Pinterest export, November", "", "Date,Campaign,Spend,Impressions,Clicks"]
lines += [f"11/{d:02d}/2026,Pins {c},${d * c}.50,{1000 * d},{10 * d}"
          for d in range(1, 31) for c in (1, 2)]
lines.append("11/30/2026,Pins 3,n/a,10,1")
open("pinterest_nov.csv", "w").write("\\n".join(lines) + "\\n")
PY
.venv/bin/ownlay upload pinterest_nov.csv --workspace acme-outdoor --kind costs --json
"""

UPLOAD_XLSX = """\
.venv/bin/python - <<'PY'
import openpyxl
book = openpyxl.Workbook()
for month, sheet in ((10, book.active), (11, book.create_sheet())):
    sheet.title = f"2026-{month}"
    sheet.append(["Day", "Campaign", "Cost", "Network"])
    for day in range(1, 29):
        sheet.append([f"2026-{month}-{day:02d}", "Podcast sponsorship", 120.5, "podcast"])
book.save("spend.xlsx")
PY
.venv/bin/ownlay upload spend.xlsx --workspace acme-outdoor --kind costs --all-sheets
"""

UPLOAD_WITH_MAPPING = """\
.venv/bin/python - <<'PY'
from datetime import UTC, datetime, timedelta
from pathlib import Path
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.cost_uploads import write_pinterest_export
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.settings import Settings
world = SandboxWorld(load_registry(Settings.from_env().registry_file))
end = datetime.now(UTC).date()
export, mapping = write_pinterest_export(
    world, world.registry.get("acme-outdoor"), end - timedelta(days=6), end, Path("exports"))
export.rename("export.csv")
mapping.rename("map.yaml")
PY
.venv/bin/ownlay upload export.csv --workspace acme-outdoor --kind costs --mapping map.yaml
"""

PLANS: dict[str, Run | RunAs | NotRun] = {
    "make demo": RunAs(
        "OWNLAY_DATABASE_URL=sqlite:///$PWD/data/ops.sqlite .venv/bin/ownlay demo --days 2",
        "what `make demo` runs once .venv exists, over 2 days instead of 30 to keep the suite "
        "fast; OWNLAY_DATABASE_URL names the default SQLite file, so this also covers the demo "
        "with the variable set",
        expect="Done: ",
    ),
    "make test": NotRun("it runs this test suite"),
    "make dev": NotRun(
        "a long-running server on port 3000; `make test` loads the same code location with "
        "`dagster definitions validate`"
    ),
    ".venv/bin/ownlay sql": Run(expect="unified_campaign_metrics_daily"),
    ".venv/bin/ownlay sql - < query.sql": Run(expect="report_date  spend"),
    ".venv/bin/ownlay alerts list": Run(),
    ".venv/bin/ownlay alerts ack <alert-id> --by maria": RunAs(
        OPEN_AN_ALERT,
        "<alert-id> is a placeholder: the test opens an alert and acknowledges it by the "
        "8-character prefix `alerts list` shows",
        expect="by maria (acknowledged)",
    ),
    ".venv/bin/ownlay rules list": Run(expect="builtin"),
    '.venv/bin/ownlay capi hash --platform google --field phone --region FR --json "06 12 34 56 78"': (
        Run(expect='"normalized": "+33612345678"')
    ),
    ".venv/bin/ownlay rules add --help": Run(expect="Rates are percents"),
    '.venv/bin/ownlay rules add --name "Low CTR" --target unified/campaign_metrics_daily '
    "--field ctr_percent --condition less_than --threshold 0.5 --client acme-outdoor": Run(
        expect="added rule"
    ),
    ".venv/bin/ownlay funnel --workspace acme-outdoor --steps "
    "page_view,add_to_cart,checkout_started,purchase --window 1d --from 2026-11-01 "
    "--to 2026-11-30 --by utm_source": Run(expect="funnel 'command line', window 86400 s"),
    ".venv/bin/ownlay attribution paths my_paths.csv --model markov --json": RunAs(
        MY_PATHS + ".venv/bin/ownlay attribution paths my_paths.csv --model markov --json\n",
        "my_paths.csv is the analyst's own file: the test writes a small one in the common "
        "aggregated format first, then runs the command as written",
        expect='"removal_effect"',
    ),
    "export OWNLAY_PII_HASH_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')": (
        Run()
    ),
    ".venv/bin/ownlay keys create acme-outdoor": Run(expect="send it as X-Ownlay-Api-Key"),
    ".venv/bin/ownlay upload pinterest_nov.csv --workspace acme-outdoor --kind costs --json": (
        RunAs(
            UPLOAD_CSV,
            "the README names no file: the test writes a 60-row export with a preamble, "
            "dollar amounts, US dates and one row without a number as spend",
            expect='{"rows": 60, "quarantined": 1, "reasons": {"Spend: not a number',
        )
    ),
    ".venv/bin/ownlay upload spend.xlsx --workspace acme-outdoor --kind costs --all-sheets": RunAs(
        UPLOAD_XLSX,
        "the test writes a workbook with two monthly sheets (openpyxl, a dev dependency)",
        expect="spend.xlsx#2026-11: 28 rows loaded, 0 quarantined",
    ),
    ".venv/bin/ownlay upload export.csv --workspace acme-outdoor --kind costs --mapping map.yaml": (
        RunAs(
            UPLOAD_WITH_MAPPING,
            "the test writes the demo's sandbox Pinterest export as export.csv and its mapping "
            "file (Pinterest's own headers, platform: pinterest) as map.yaml",
            expect="export.csv: 20 rows loaded, 1 quarantined",
        )
    ),
    ".venv/bin/ownlay serve --port 8080": RunAs(
        SERVE_AND_POST,
        f"a server: started on port {SERVE_PORT} (the tests' range), sent one event with a "
        "fresh key, then stopped",
        expect="POST /api/v1/events 202",
    ),
}


def _serve_and(command: str) -> str:
    """A script that starts the service on the tests' port with a fresh key in OWNLAY_API_KEY,
    runs `command` (the README's, its port swapped) once the service answers, then stops it."""
    return f"""\
export OWNLAY_API_KEY=$(.venv/bin/ownlay keys create acme-outdoor --label readme-curl | sed -n 2p)
.venv/bin/ownlay serve --port {SERVE_PORT} > serve-curl.log 2>&1 &
SERVER=$!
for attempt in $(seq 1 300); do
  curl -s -o /dev/null http://127.0.0.1:{SERVE_PORT}/openapi.json && break
  sleep 0.2
done
{command.replace("127.0.0.1:8080", f"127.0.0.1:{SERVE_PORT}")}
echo
kill $SERVER
wait $SERVER || true
"""


def readme_blocks() -> list[tuple[str, list[str]]]:
    """(language, commands) of every fenced block; bash continuation lines are joined."""
    blocks = []
    for language, body in FENCE.findall(README.read_text(encoding="utf-8")):
        if language == "bash":
            joined = re.sub(r"\\\n\s*", "", body)
            commands = [
                TRAILING_COMMENT.sub("", line).strip()
                for line in joined.splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            ]
            blocks.append((language, commands))
        else:
            blocks.append((language, [body]))
    return blocks


CURL_COMMAND = next(
    command
    for language, commands in readme_blocks()
    if language == "bash"
    for command in commands
    if command.startswith("curl ")
)
PLANS[CURL_COMMAND] = RunAs(
    _serve_and(CURL_COMMAND),
    f"needs the service running and a key in OWNLAY_API_KEY: both set up on port {SERVE_PORT} "
    "(the tests' range); the README's command then runs with only its port changed",
    expect='"status":"accepted"',
)


def _script(blocks: list[tuple[str, list[str]]]) -> tuple[str, dict[str, str]]:
    """The bash session running every planned command, and each command's expected output."""
    lines = ["set -euo pipefail"]
    expected: dict[str, str] = {}
    for language, commands in blocks:
        if language != "bash":
            continue
        for command in commands:
            plan = PLANS[command]
            if isinstance(plan, NotRun):
                continue
            lines.append(f"echo '::: {command.replace(chr(39), '')}'")
            lines.append(command if isinstance(plan, Run) else plan.script)
            expected[command] = plan.expect
    return "\n".join(lines) + "\n", expected


def test_every_readme_command_has_a_plan_and_every_block_is_bash_or_sql():
    blocks = readme_blocks()
    commands = [c for language, commands in blocks if language == "bash" for c in commands]
    assert [c for c in commands if c not in PLANS] == []
    assert [c for c in PLANS if c not in commands] == []  # no plan for a command that left
    assert {language for language, _ in blocks} == {"bash", "sql"}
    # The one SQL block runs through `ownlay sql - < query.sql`, the command before it.
    assert [language for language, _ in blocks].count("sql") == 1


@pytest.mark.slow
def test_readme_commands_work_as_written(demo_project_dir: Path):
    blocks = readme_blocks()
    (sql,) = [body[0] for language, body in blocks if language == "sql"]
    (demo_project_dir / "query.sql").write_text(sql)
    (demo_project_dir / ".venv").symlink_to(Path(sys.executable).parents[1])
    script, expected = _script(blocks)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OWNLAY_", "DAGSTER_"))}

    result = subprocess.run(
        ["bash", "-c", script],
        cwd=demo_project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outputs = dict(re.findall(r"^::: (.*?)\n(.*?)(?=^::: |\Z)", result.stdout, re.S | re.M))
    for command, expect in expected.items():
        assert expect in outputs[command.replace("'", "")], (command, outputs.get(command))
    # Every view the demo's warehouse holds says what it is.
    with duckdb.connect(
        str(demo_project_dir / "data" / "warehouse.duckdb"), read_only=True
    ) as warehouse:
        catalog = dict(warehouse.sql("SELECT relation, description FROM ownlay_catalog").fetchall())
    assert len(catalog) >= 30 and [v for v, text in catalog.items() if not text] == []
