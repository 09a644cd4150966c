"""A refused OAuth refresh on any OAuth platform ends as a watchtower alert naming the workspace,
the platform and the ad account: client core → failure policy → run-failure alert path."""

from datetime import UTC, date, datetime

import httpx
import pytest

from ownlay_pipelines.connectors.catalog import PLATFORMS
from ownlay_pipelines.connectors.streams import FetchRequest, Partitioning
from ownlay_pipelines.defs.failure_policy import FAILURE_KIND_METADATA, failure_outcome
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.errors import AuthExpired
from ownlay_pipelines.http.oauth import REFRESH_CREDENTIALS
from ownlay_pipelines.orchestration.error_policy import FailureKind
from ownlay_pipelines.orchestration.sync_alerts import SyncFailure, record_sync_failure
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines.watchtower.alerts import list_alerts
from ownlay_pipelines.watchtower.snapshots import SnapshotType

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)
OAUTH_PLATFORMS = ("snapchat_ads", "google_ads", "linkedin_ads", "ga4")
TOKEN_HOSTS = {
    "oauth2.googleapis.com",
    "www.linkedin.com",
    "accounts.snapchat.com",
}


def _refusing_transport(seen: list[str]) -> httpx.MockTransport:
    """Every API call is refused with 401; every refresh grant with `invalid_grant`."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        if request.url.host in TOKEN_HOSTS:
            return httpx.Response(
                400, json={"error": "invalid_grant", "error_description": "Token revoked"}
            )
        return httpx.Response(401, json={"error": {"code": 401, "message": "expired token"}})

    return httpx.MockTransport(handle)


@pytest.mark.parametrize("platform", OAUTH_PLATFORMS)
def test_failed_refresh_raises_an_alert_naming_workspace_and_connection(store, platform):
    plugin = next(p for p in PLATFORMS if p.platform == platform)
    connector = plugin.connector
    spec = next(s for s in connector.streams if s.partitioning is Partitioning.DATE_AND_WORKSPACE)
    workspace = REGISTRY.get("acme-outdoor")
    connection = workspace.connections_for(platform)[0]
    seen: list[str] = []
    names = {*connector.credential_names, *REFRESH_CREDENTIALS}
    client = connector.build_client(
        credentials={name: f"configured-{name}" for name in names},
        account_id=connection.account_id,
        transport=_refusing_transport(seen),
        clock=FakeClock(),
        rate_limits=connector.rate_limits,
    )

    request = FetchRequest(workspace, connection, DateRange(date(2026, 11, 18), date(2026, 11, 19)))
    with client, pytest.raises(AuthExpired) as refused:
        list(spec.fetch(client, request))

    assert TOKEN_HOSTS & set(seen), "the client tried a refresh before giving up"
    outcome = failure_outcome(
        refused.value, workspace_id=workspace.id, platform=platform, retry_number=0
    )
    assert outcome is not None and outcome.metadata[FAILURE_KIND_METADATA].value == "auth_expired"
    decision = record_sync_failure(
        store,
        SyncFailure(
            workspace_id=workspace.id,
            source=platform,
            kind=FailureKind.AUTH_EXPIRED,
            tables=(spec.table,),
            error=outcome.description or "",
            run_id="run-oauth",
            connector=True,
        ),
        snapshot_type=SnapshotType.SCHEDULED,
        now=NOW,
    )

    assert decision.alert_id is not None  # auth alerts at the first failure
    (alert,) = list_alerts(store)
    assert alert.entity == {"client_id": "acme-outdoor", "source": platform}
    assert f"{platform} for workspace acme-outdoor, account {connection.account_id}" in (
        alert.message
    )
    assert "re-authorise" in alert.message
    assert "configured-" not in alert.message  # no credential leaks into the alert
