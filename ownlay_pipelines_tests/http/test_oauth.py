"""Short-lived OAuth tokens: refreshed before expiry, once more on a 401, and a refused refresh is
AuthExpired without the secrets in its message."""

from __future__ import annotations

import httpx
import pytest

from ownlay_pipelines.connectors import google_ads
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.errors import AuthExpired
from ownlay_pipelines.http.oauth import AccessTokenSource, RefreshGrant

TOKEN_URL = "https://auth.example/token"
GRANT = RefreshGrant(TOKEN_URL, "app", "app-secret-123", "refresh-secret-456")


class Peer:
    """An OAuth token endpoint plus an API that accepts only the latest token."""

    def __init__(self, *, refuse_refresh: bool = False, lifetime: int = 3600) -> None:
        self.issued = 0
        self.refuse_refresh = refuse_refresh
        self.lifetime = lifetime
        self.api_calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            form = dict(httpx.QueryParams(request.content.decode()))
            assert (
                form["grant_type"] == "refresh_token" and form["client_secret"] == "app-secret-123"
            )
            if self.refuse_refresh:
                return httpx.Response(400, json={"error": "invalid_grant"})
            self.issued += 1
            return httpx.Response(
                200, json={"access_token": f"t{self.issued}", "expires_in": self.lifetime}
            )
        token = request.headers["authorization"].removeprefix("Bearer ")
        self.api_calls.append(token)
        if token != f"t{self.issued}":
            return httpx.Response(401, json={"error": "expired"})
        return httpx.Response(200, json={"ok": True})


class OAuthClient(ApiClient):
    platform = "example"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer_token('')}"}


def _client(peer: Peer, clock: FakeClock) -> OAuthClient:
    transport = httpx.MockTransport(peer)
    tokens = AccessTokenSource(GRANT, clock=clock, transport=transport)
    return OAuthClient(tokens=tokens, base_url="https://api.example/", account_id="1",
                       transport=transport, clock=clock)  # fmt: skip


def test_a_token_is_renewed_shortly_before_it_expires(clock: FakeClock):
    peer = Peer(lifetime=3600)
    client = _client(peer, clock)

    client.request_json("GET", "things")
    clock.advance(3600 - 299)
    client.request_json("GET", "things")

    assert peer.api_calls == ["t1", "t2"] and client.stats.retries == 0


def test_a_401_refreshes_once_and_retries(clock: FakeClock):
    peer = Peer()
    client = _client(peer, clock)
    client.request_json("GET", "things")
    peer.issued += 1  # the platform revoked t1 and would issue t3 next; t2 is never handed out

    assert client.request_json("GET", "things") == {"ok": True}
    assert peer.api_calls == ["t1", "t1", "t3"]
    assert client.stats.retries == 1 and client.stats.errors_by_class == {"AuthExpired": 1}


def test_a_refused_refresh_is_auth_expired_and_names_no_secret(clock: FakeClock):
    client = _client(Peer(refuse_refresh=True), clock)

    with pytest.raises(AuthExpired, match=r"refresh token refused at auth\.example") as caught:
        client.request_json("GET", "things")
    assert "secret" not in str(caught.value)
    assert client.tokens.refreshes == 0


def _google_peer(requests: list[str]):
    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(f"{request.method} {request.url.host}")
        if request.url.host == "oauth2.googleapis.com":
            return httpx.Response(200, json={"access_token": "fresh", "expires_in": 3599})
        if request.headers["authorization"] != "Bearer fresh":
            return httpx.Response(401, json={"error": {"code": 401, "status": "UNAUTHENTICATED",
                                                       "message": "token expired"}})  # fmt: skip
        return httpx.Response(200, json={"results": []})

    return httpx.MockTransport(answer)


def test_google_ads_renews_its_one_hour_token_when_a_refresh_grant_is_configured(clock):
    requests: list[str] = []
    credentials = {"access_token": "stale", "developer_token": "dev"}
    grant = {"client_id": "app", "client_secret": "s3cret", "refresh_token": "r3fresh"}
    client = google_ads.build_client(
        credentials=credentials | grant,
        account_id="1",
        transport=_google_peer(requests),
        clock=clock,
    )

    assert list(client.search("SELECT campaign.id FROM campaign")) == []
    assert requests == ["POST googleads.googleapis.com", "POST oauth2.googleapis.com",
                        "POST googleads.googleapis.com"]  # fmt: skip
    without_grant = google_ads.build_client(
        credentials=credentials, account_id="1", transport=_google_peer([]), clock=clock
    )
    with pytest.raises(AuthExpired, match="token expired"):
        list(without_grant.search("SELECT campaign.id FROM campaign"))
    assert google_ads.CONNECTOR.optional_credential_names == ("client_id", "client_secret",
                                                             "refresh_token")  # fmt: skip
