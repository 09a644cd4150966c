"""`ownlay demo` with OWNLAY_DATABASE_URL on PostgreSQL: the ops store the runs and the summary
use is the one the variable names (the SQLite case runs in test_readme_commands.py).

The demo runs over one workspace of the sandbox registry (acme-outdoor, every kind of
connection): what is under test is which store the demo writes to, and every per-workspace step
writes the same tables whichever workspace it runs for. The README test runs all of them.
"""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines_tests.watchtower.conftest import _postgres_admin_url


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A plain `postgresql://` URL to a schema of its own (public stays on the search path for
    the uuid-ossp functions), dropped afterwards; fails rather than skips when CI=true."""
    admin_url = _postgres_admin_url()
    schema = f"checks_cli_demo_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            sa.make_url(admin_url)
            .set(drivername="postgresql")
            .update_query_dict({"options": f"-csearch_path={schema},public"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def one_workspace_registry(path: Path) -> Path:
    """The sandbox registry cut to its first workspace (acme-outdoor: ads, shop, Stripe, CAPI)."""
    registry = yaml.safe_load(DEFAULT_REGISTRY_FILE.read_text(encoding="utf-8"))
    registry["workspaces"] = registry["workspaces"][:1]
    path.write_text(yaml.safe_dump(registry), encoding="utf-8")
    return path


@pytest.mark.slow
def test_demo_runs_against_postgresql_when_the_url_is_set(
    demo_project_dir: Path, postgresql_url: str
):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OWNLAY_", "DAGSTER_"))}
    env["OWNLAY_DATABASE_URL"] = postgresql_url
    registry_file = one_workspace_registry(demo_project_dir / "workspaces.yaml")
    env["OWNLAY_REGISTRY_FILE"] = str(registry_file)

    result = subprocess.run(
        [str(Path(sys.executable).parent / "ownlay"), "demo", "--days", "1"],
        cwd=demo_project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert "open alert(s)" in result.stdout and "Done: " in result.stdout
    assert not (demo_project_dir / "data" / "ops.sqlite").exists()
    engine = sa.create_engine(postgresql_url.replace("postgresql://", "postgresql+psycopg2://"))
    with engine.connect() as connection:
        syncs = connection.execute(sa.text("SELECT count(*) FROM api_snapshots")).scalar_one()
        keys = connection.execute(sa.text("SELECT count(*) FROM ingest_api_keys")).scalar_one()
    engine.dispose()
    assert [w.id for w in load_registry(registry_file).workspaces] == ["acme-outdoor"]
    assert syncs > 0 and keys == 1  # one demo key per workspace, revoked after the events
