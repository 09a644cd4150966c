"""Short-lived OAuth access tokens minted from a long-lived refresh token (RFC 6749 §6).

Snapchat's access tokens live about an hour (reference/connectors.md §1.5); the refresh token,
client id and client secret come from the environment like every credential. A token is renewed
shortly before it expires and, through `ApiClient.refresh_credentials`, once when a call is
answered 401 anyway. A refused refresh is `AuthExpired`: someone has to re-authorise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ownlay_pipelines.http.clock import Clock, SystemClock
from ownlay_pipelines.http.errors import AuthExpired, TransientError
from ownlay_pipelines.http.responses import json_object

REFRESH_CREDENTIALS = ("client_id", "client_secret", "refresh_token")
"""Optional credentials that turn on refreshing for a platform whose tokens may expire."""
REFRESH_EARLY_SECONDS = 300.0
"""Renew a token this long before its `expires_in` runs out, so no call carries a dying one."""


@dataclass(frozen=True)
class RefreshGrant:
    """Where and with what to refresh: the token endpoint and the app's and user's secrets."""

    token_url: str
    client_id: str
    client_secret: str
    refresh_token: str


class AccessTokenSource:
    """Hands out a valid access token, refreshing it from `grant` when it is due."""

    def __init__(
        self,
        grant: RefreshGrant,
        *,
        clock: Clock,
        transport: httpx.BaseTransport | None = None,
        early_seconds: float = REFRESH_EARLY_SECONDS,
        initial_token: str | None = None,
    ) -> None:
        self._grant = grant
        self._clock = clock
        self._early = early_seconds
        self._http = httpx.Client(transport=transport, timeout=httpx.Timeout(30.0, connect=10.0))
        self._token = initial_token or None
        # A configured token's expiry is unknown: it is used until the platform refuses it.
        self._expires_at = math.inf if self._token else 0.0
        self.refreshes = 0

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret this source holds, for scrubbing messages."""
        grant = self._grant
        return tuple(s for s in (grant.client_secret, grant.refresh_token, self._token) if s)

    def token(self) -> str:
        """A token valid for at least `early_seconds` more, refreshed first when needed."""
        if self._token is None or self._clock.monotonic() >= self._expires_at - self._early:
            return self.refresh()
        return self._token

    def refresh(self) -> str:
        """Exchange the refresh token for a new access token."""
        grant = self._grant
        form = {
            "grant_type": "refresh_token",
            "refresh_token": grant.refresh_token,
            "client_id": grant.client_id,
            "client_secret": grant.client_secret,
        }
        try:
            response = self._http.post(grant.token_url, data=form)
        except httpx.TransportError as exc:
            raise TransientError(
                f"token refresh failed before a response ({type(exc).__name__})"
            ) from None
        host = httpx.URL(grant.token_url).host
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(f"token refresh at {host} answered {response.status_code}")
        body = json_object(response)
        token, lifetime = body.get("access_token"), body.get("expires_in")
        if response.status_code >= 400 or not isinstance(token, str) or not token:
            reason = body.get("error_description") or body.get("error") or response.status_code
            raise AuthExpired(
                f"refresh token refused at {host} ({reason}); re-authorise the connection",
                status=response.status_code,
                code=str(body.get("error") or ""),
            )
        self._token = token
        self._expires_at = self._clock.monotonic() + float(lifetime or 3600)
        self.refreshes += 1
        return token

    def close(self) -> None:
        self._http.close()


def token_source(
    credentials: Mapping[str, str], token_url: str, client_options: Mapping[str, Any]
) -> AccessTokenSource | None:
    """A refreshing token source when `credentials` hold a refresh grant, else None. The
    configured `access_token`, if any, is used first; `client_options` give clock and transport."""
    if not all(credentials.get(name) for name in REFRESH_CREDENTIALS):
        return None
    return AccessTokenSource(
        RefreshGrant(
            token_url,
            credentials["client_id"],
            credentials["client_secret"],
            credentials["refresh_token"],
        ),
        clock=client_options.get("clock") or SystemClock(),
        transport=client_options.get("transport"),
        initial_token=credentials.get("access_token"),
    )
