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
    ".venv/bin/ownlay sql - < query.sql": Run(expect="platform    report_date  spend"),
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
    "export OWNLAY_PII_HASH_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')": (
        Run()
    ),
    ".venv/bin/ownlay keys create acme-outdoor": Run(expect="send it as X-Ownlay-Api-Key"),
    ".venv/bin/ownlay serve --port 8080": RunAs(
        SERVE_AND_POST,
        f"a server: started on port {SERVE_PORT} (the tests' range), sent one event with a "
        "fresh key, then stopped",
        expect="POST /api/v1/events 202",
    ),
}


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


def test_readme_commands_work_as_written(tmp_path: Path):
    blocks = readme_blocks()
    (sql,) = [body[0] for language, body in blocks if language == "sql"]
    (tmp_path / "query.sql").write_text(sql)
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    script, expected = _script(blocks)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OWNLAY_", "DAGSTER_"))}

    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outputs = dict(re.findall(r"^::: (.*?)\n(.*?)(?=^::: |\Z)", result.stdout, re.S | re.M))
    for command, expect in expected.items():
        assert expect in outputs[command.replace("'", "")], (command, outputs.get(command))
    # Every view the demo's warehouse holds says what it is.
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as warehouse:
        catalog = dict(warehouse.sql("SELECT relation, description FROM ownlay_catalog").fetchall())
    assert len(catalog) >= 30 and [v for v, text in catalog.items() if not text] == []
