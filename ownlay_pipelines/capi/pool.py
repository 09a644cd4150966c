"""One pooled httpx client per platform for a forwarding run, its connection limit set by the
backlog.

Every sender of a platform in a run (one per destination) sends through the same `httpx.Client`,
so connections (and TLS sessions) are reused from batch to batch and destination to destination
instead of each sender opening its own. The pool keeps one connection per batch waiting in the
outbox — `ceil(rows / platform maximum)` summed over the destinations — at least 1 and at most
`MAX_CONNECTIONS`: a quiet platform holds one connection, a backfill of a million rows a few.
`forward_platform` (capi/run.py) drains that many destinations at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from types import TracebackType
from typing import Self

import httpx

from ownlay_pipelines.capi.platforms import CapiPlatform
from ownlay_pipelines.capi.senders import CAPI_TIMEOUT, LIMITS, SENDERS

MAX_CONNECTIONS = 8
"""Connections one platform's pool may hold, whatever the backlog."""


def connection_limit(
    platform: CapiPlatform, backlogs: Iterable[int], *, ceiling: int = MAX_CONNECTIONS
) -> int:
    """Connections worth holding for `platform`: one per batch waiting, summed over its
    destinations' backlogs (rows), between 1 and `ceiling`."""
    batch = LIMITS[platform].max_batch
    waiting = sum(math.ceil(max(rows, 0) / batch) for rows in backlogs)
    return max(1, min(ceiling, waiting))


class PlatformClients:
    """The run's pooled clients, one per platform; close them (or use `with`) at the end."""

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        ceiling: int = MAX_CONNECTIONS,
    ) -> None:
        self._transport = transport
        self._ceiling = ceiling
        self._clients: dict[CapiPlatform, httpx.Client] = {}
        self.connection_limits: dict[CapiPlatform, int] = {}
        """Each platform's limit, fixed by the backlog when its client was made."""

    def client(self, platform: CapiPlatform, backlogs: Iterable[int]) -> httpx.Client:
        """`platform`'s client, made on first use with a limit from `backlogs` (rows per
        destination), then the same client for the rest of the run."""
        if platform not in self._clients:
            limit = connection_limit(platform, backlogs, ceiling=self._ceiling)
            self.connection_limits[platform] = limit
            self._clients[platform] = httpx.Client(
                base_url=SENDERS[platform].default_base_url,
                transport=self._transport,
                timeout=CAPI_TIMEOUT,
                limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
            )
        return self._clients[platform]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
