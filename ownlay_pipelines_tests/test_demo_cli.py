"""`ownlay demo` with OWNLAY_DATABASE_URL on PostgreSQL: the ops store the runs and the summary
use is the one the variable names (the SQLite case runs in test_readme_commands.py)."""

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from ownlay_pipelines_tests.ingest.conftest import postgresql_url  # noqa: F401 (a fixture)


def test_demo_runs_against_postgresql_when_the_url_is_set(
    tmp_path: Path,
    postgresql_url: str,  # noqa: F811 (the imported fixture)
):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OWNLAY_", "DAGSTER_"))}
    env["OWNLAY_DATABASE_URL"] = postgresql_url

    result = subprocess.run(
        [str(Path(sys.executable).parent / "ownlay"), "demo", "--days", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert "open alert(s)" in result.stdout and "Done: " in result.stdout
    assert not (tmp_path / "data" / "ops.sqlite").exists()
    engine = sa.create_engine(postgresql_url.replace("postgresql://", "postgresql+psycopg2://"))
    with engine.connect() as connection:
        syncs = connection.execute(sa.text("SELECT count(*) FROM api_snapshots")).scalar_one()
        keys = connection.execute(sa.text("SELECT count(*) FROM ingest_api_keys")).scalar_one()
    engine.dispose()
    assert syncs > 0 and keys == 3  # one demo key per workspace, revoked after the events
