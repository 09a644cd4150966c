"""Faults the simulators inject, decided deterministically so tests can assert exact counts.

A `FaultPlan` says how often each platform misbehaves. Per-request faults (throttling, server
errors, async job failures and stalls) are decided by a `FaultDice`: the n-th decision of a kind
on a platform is a fixed function of (plan seed, platform, kind, n), so the same request sequence
always meets the same faults. Malformed rows are decided per row identity instead, so a row is
malformed on every read and tests can count quarantined rows from `malformed_keys`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum

from ownlay_pipelines.sandbox.entities import CampaignDayKey
from ownlay_pipelines.sandbox.seeding import unit_draw


class Fault(StrEnum):
    """A kind of per-request misbehaviour; the value names its `<value>_rate` in PlatformFaults."""

    THROTTLE = "throttle"
    SERVER_ERROR = "server_error"
    ASYNC_FAILURE = "async_failure"
    ASYNC_STALL = "async_stall"


@dataclass(frozen=True)
class PlatformFaults:
    """How often one platform misbehaves: each rate is the chance per request (or per async job,
    or per row) in [0, 1]; `token_expired` makes every authenticated request fail as expired."""

    throttle_rate: float = 0.0
    server_error_rate: float = 0.0
    token_expired: bool = False
    malformed_row_rate: float = 0.0
    async_failure_rate: float = 0.0
    async_stall_rate: float = 0.0

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name.endswith("_rate") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{spec.name} must be between 0 and 1, not {value}")

    def rate(self, fault: Fault) -> float:
        """The configured rate of `fault`."""
        return float(getattr(self, f"{fault.value}_rate"))


NO_FAULTS = PlatformFaults()


@dataclass(frozen=True)
class FaultPlan:
    """Which platforms misbehave and how (keys are platform names such as "meta_ads")."""

    faults: Mapping[str, PlatformFaults] = field(default_factory=dict)
    seed: int = 0

    def for_platform(self, platform: str) -> PlatformFaults:
        """The platform's faults; none when the plan does not mention it."""
        return self.faults.get(str(platform), NO_FAULTS)

    def row_is_malformed(self, platform: str, key: CampaignDayKey) -> bool:
        """True when the platform serves the row `key` malformed (on every read)."""
        rate = self.for_platform(platform).malformed_row_rate
        return rate > 0 and unit_draw(self.seed, platform, "malformed", *key) < rate

    def malformation(self, platform: str, key: CampaignDayKey, variants: int) -> int:
        """Which of a platform's `variants` ways of breaking a row applies to `key`."""
        return int(unit_draw(self.seed, platform, "malformation", *key) * variants)


class FaultDice:
    """The sequence of fault decisions one simulator makes, with one counter per fault kind.

    `fired` counts the faults actually injected (plus `token_expired` refusals), which is what a
    test compares with the retries and errors its client saw.
    """

    def __init__(self, plan: FaultPlan, platform: str) -> None:
        self.plan = plan
        self.platform = str(platform)
        self.faults = plan.for_platform(self.platform)
        self._decisions: Counter[str] = Counter()
        self.fired: Counter[str] = Counter()

    def roll(self, fault: Fault) -> bool:
        """Decide the next `fault` of this platform: True means inject it now."""
        rate = self.faults.rate(fault)
        if rate <= 0:
            return False
        number = self._decisions[fault.value]
        self._decisions[fault.value] += 1
        hit = unit_draw(self.plan.seed, self.platform, fault.value, number) < rate
        if hit:
            self.fired[fault.value] += 1
        return hit

    def token_expired(self) -> bool:
        """True when the plan expires this platform's token (every authenticated request fails)."""
        if self.faults.token_expired:
            self.fired["token_expired"] += 1
        return self.faults.token_expired
