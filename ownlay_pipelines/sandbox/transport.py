"""The sandbox as an httpx transport: requests are routed by host to each platform's simulator.

Connectors keep their real HTTP code path — URLs, headers, paging, error handling — and only the
transport changes: `httpx.Client(transport=sandbox_transport(world))`. A platform joins the
sandbox by adding its simulator class to `SIMULATORS` under the host its API lives on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import httpx

from ownlay_pipelines.sandbox.faults import FaultDice, FaultPlan
from ownlay_pipelines.sandbox.google_ads import GoogleAdsSimulator
from ownlay_pipelines.sandbox.mailchimp import MailchimpSimulator
from ownlay_pipelines.sandbox.meta_ads import MetaAdsSimulator
from ownlay_pipelines.sandbox.omnisend import OmnisendSimulator
from ownlay_pipelines.sandbox.shopify import ShopifySimulator
from ownlay_pipelines.sandbox.stripe import StripeSimulator
from ownlay_pipelines.sandbox.world import SandboxWorld

SECRET_PARAMS = frozenset(
    {"access_token", "api_key", "appsecret_proof", "client_secret", "key", "refresh_token"}
)
REDACTED = "REDACTED"


class PlatformSimulator(Protocol):
    """A fake of one platform's API on one host, answering from the world with faults injected."""

    platform: str
    host: str
    dice: FaultDice

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request exactly as the platform would."""
        ...

    def use_faults(self, plan: FaultPlan) -> None:
        """Switch to another fault plan from the next request on."""
        ...


SimulatorFactory = Callable[[SandboxWorld, FaultPlan], PlatformSimulator]
SIMULATORS: dict[str, SimulatorFactory] = {
    MetaAdsSimulator.host: MetaAdsSimulator,
    GoogleAdsSimulator.host: GoogleAdsSimulator,
    OmnisendSimulator.host: OmnisendSimulator,
    ShopifySimulator.host: ShopifySimulator,
    StripeSimulator.host: StripeSimulator,
    MailchimpSimulator.host: MailchimpSimulator,
}
"""Host → simulator class: every platform API the sandbox serves. A simulator registered on a
parent domain also serves its subdomains (each shop's `<shop>.myshopify.com`)."""


@dataclass(frozen=True)
class LoggedRequest:
    """One request the sandbox answered: method, URL with secrets redacted, response status."""

    method: str
    url: str
    status: int

    @property
    def host(self) -> str:
        """The host the request went to."""
        return httpx.URL(self.url).host


class SandboxTransport(httpx.MockTransport):
    """An httpx transport serving every registered simulator; `request_log` records each call."""

    def __init__(self, world: SandboxWorld, simulators: Iterable[PlatformSimulator]) -> None:
        super().__init__(self._route)
        self.world = world
        self.simulators: dict[str, PlatformSimulator] = {}
        self.request_log: list[LoggedRequest] = []
        # Simulators count requests to decide faults; one request at a time keeps that exact
        # when a client shares the transport across threads.
        self._lock = threading.Lock()
        for simulator in simulators:
            self.register(simulator)

    def register(self, simulator: PlatformSimulator) -> None:
        """Serve `simulator` on its host, replacing the one there (e.g. with a small page size)."""
        self.simulators[simulator.host] = simulator

    def simulator(self, platform: str) -> PlatformSimulator:
        """The simulator of `platform` (e.g. to read its `malformed_keys` or `dice.fired`)."""
        for simulator in self.simulators.values():
            if simulator.platform == platform:
                return simulator
        raise KeyError(
            f"no simulator for platform {platform!r} (serving: "
            f"{', '.join(s.platform for s in self.simulators.values())})"
        )

    def set_faults(self, plan: FaultPlan) -> None:
        """Apply a new fault plan to every simulator from the next request on."""
        for simulator in self.simulators.values():
            simulator.use_faults(plan)

    def requests_to(self, host: str) -> list[LoggedRequest]:
        """The logged requests that went to `host`, in order."""
        return [entry for entry in self.request_log if entry.host == host]

    def _route(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            host = request.url.host
            simulator = self.simulators.get(host) or self.simulators.get(host.partition(".")[2])
            if simulator is None:
                response = _unknown_host(request, sorted(self.simulators))
            else:
                response = simulator.handle(request)
            self.request_log.append(
                LoggedRequest(request.method, _redacted(request.url), response.status_code)
            )
        return response


def sandbox_transport(world: SandboxWorld, faults: FaultPlan | None = None) -> SandboxTransport:
    """A transport serving every platform simulator from `world`, with `faults` injected."""
    plan = faults or FaultPlan()
    return SandboxTransport(world, [factory(world, plan) for factory in SIMULATORS.values()])


def _redacted(url: httpx.URL) -> str:
    for name in SECRET_PARAMS & set(url.params.keys()):
        url = url.copy_set_param(name, REDACTED)
    return str(url)


def _unknown_host(request: httpx.Request, known: list[str]) -> httpx.Response:
    host = request.url.host
    message = f"the OWNLAY sandbox has no simulator for host {host!r} (serving: {', '.join(known)})"
    return httpx.Response(404, json={"error": {"message": message, "host": host}})
