"""Smoke test of the UI: dagster-webserver serves the code location's graph, schedules, sensors
and checks through its GraphQL API, exactly as the definitions declare them."""

import os
from pathlib import Path

import dagster as dg
import httpx

from ownlay_pipelines.definitions import build_definitions
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE, Settings
from ownlay_pipelines_tests.orchestration.services import (
    BIN,
    REPO_ROOT,
    free_port,
    running,
    wait_until,
)

LOCATION_QUERY = """
{
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation {
            repositories {
              schedules { name cronSchedule executionTimezone scheduleState { status } }
              sensors { name sensorType sensorState { status } }
            }
          }
          ... on PythonError { message }
        }
      }
    }
  }
}
"""
ASSETS_QUERY = """
{
  assetNodes {
    assetKey { path }
    dependencyKeys { path }
    assetChecksOrError { ... on AssetChecks { checks { name } } }
  }
}
"""


def _graphql(port: int, query: str) -> dict:
    response = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def _answering(port: int) -> bool | None:
    try:
        httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).raise_for_status()
    except httpx.HTTPError:
        return None
    return True


def test_webserver_serves_the_asset_graph_schedules_sensors_and_checks(tmp_path: Path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OWNLAY_", "DAGSTER_"))},
        "DAGSTER_HOME": str(home),
        "OWNLAY_DATA_DIR": str(tmp_path / "data"),
    }
    port = free_port()
    log_path = tmp_path / "webserver.log"
    command = [
        str(BIN / "dagster-webserver"),
        *("-w", str(REPO_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)),
    ]
    with running(command, env=env, cwd=tmp_path, log_path=log_path) as webserver:
        wait_until(
            lambda: _answering(port),
            timeout_seconds=90,
            what="webserver answering",
            process=webserver,
            log_path=log_path,
        )
        (entry,) = _graphql(port, LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        assets = _graphql(port, ASSETS_QUERY)["assetNodes"]

    defs = build_definitions(Settings(data_dir=tmp_path, registry_file=DEFAULT_REGISTRY_FILE))
    # Loading definitions reads the current instance's state storage; give it a live one.
    with dg.instance_for_test():
        graph = defs.resolve_asset_graph()
    assert (entry["name"], entry["loadStatus"]) == ("ownlay_pipelines", "LOADED")
    (repository,) = entry["locationOrLoadError"]["repositories"]

    served = {"/".join(node["assetKey"]["path"]): node for node in assets}
    assert set(served) == {key.to_user_string() for key in graph.get_all_asset_keys()}
    unified = served["unified/campaign_metrics_daily"]
    assert ["raw", "meta_ads", "insights"] in [d["path"] for d in unified["dependencyKeys"]]
    checks = {
        f"{key}:{check['name']}"
        for key, node in served.items()
        for check in node["assetChecksOrError"].get("checks", [])
    }
    assert checks == {key.to_user_string() for key in graph.asset_check_keys}

    schedules = {s["name"]: s for s in repository["schedules"]}
    assert schedules.keys() == {s.name for s in defs.schedules}
    assert schedules["sync_daily_metrics"] == {
        "name": "sync_daily_metrics",
        "cronSchedule": "*/15 * * * *",
        "executionTimezone": "UTC",
        "scheduleState": {"status": "STOPPED"},
    }
    sensors = {
        s["name"]: (s["sensorType"], s["sensorState"]["status"]) for s in repository["sensors"]
    }
    assert sensors.keys() == {s.name for s in defs.sensors}
    assert sensors["workspace_registry"] == ("STANDARD", "RUNNING")
    assert sensors["models_follow_upstream"] == ("STANDARD", "RUNNING")
    assert sensors["warehouse_catalog_refresh"] == ("AUTOMATION", "RUNNING")
    assert sensors["sync_failure_alerts"] == ("RUN_STATUS", "RUNNING")
