"""The ECB reference-rate feed in the sandbox: the same XML files, on the same host.

Rates are a deterministic function of (seed, currency, day): each currency's price level
(`currency.py`) wobbling by at most ±2 %, rounded to the 5 significant digits the ECB quotes.
They are published like the ECB's: TARGET business days only (no weekends, New Year's Day, Good
Friday, Easter Monday, 1 May, 25–26 December), each at 16:00 Frankfurt time, so a world whose
`now` is before that has not seen the day's rates yet.

Ground truth lives here too (`rate`, `published_days`), computed without the connector's parser.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import httpx
from dateutil.easter import easter

from ownlay_pipelines.models.fx_feed import DAILY_PATH, ECB_HOST, HISTORY_90D_PATH
from ownlay_pipelines.sandbox.currency import UNITS_PER_US_DOLLAR
from ownlay_pipelines.sandbox.faults import Fault, FaultDice, FaultPlan
from ownlay_pipelines.sandbox.seeding import unit_draw

if TYPE_CHECKING:
    from ownlay_pipelines.sandbox.world import SandboxWorld

PUBLISHED_AT = time(16, 0)
FRANKFURT = ZoneInfo("Europe/Berlin")
NOT_QUOTED_BY_THE_ECB = frozenset({"EUR", "KWD"})
"""Sandbox currencies without an ECB reference rate (the euro itself; the Kuwaiti dinar, which
the sandbox prices Stripe amounts in to exercise three-decimal minor units)."""
QUOTED = tuple(sorted(c for c in UNITS_PER_US_DOLLAR if c not in NOT_QUOTED_BY_THE_ECB))
"""Currencies the sandbox ECB quotes against the euro, as the real feed does."""
MAX_WOBBLE = 0.02


def is_target_business_day(day: date) -> bool:
    """True on days the ECB publishes reference rates (TARGET2 open)."""
    if day.weekday() >= 5:
        return False
    easter_sunday = easter(day.year)
    closed = {
        date(day.year, 1, 1),
        easter_sunday - timedelta(days=2),
        easter_sunday + timedelta(days=1),
        date(day.year, 5, 1),
        date(day.year, 12, 25),
        date(day.year, 12, 26),
    }
    return day not in closed


def rate(seed: int, currency: str, day: date) -> Decimal:
    """Units of `currency` per euro on business day `day`, 5 significant digits."""
    if currency == "EUR":
        return Decimal(1)
    level = UNITS_PER_US_DOLLAR[currency] / UNITS_PER_US_DOLLAR["EUR"]
    wobble = (unit_draw(seed, "ecb-rate", currency, day) * 2 - 1) * MAX_WOBBLE
    value = Decimal(repr(level * (1 + wobble)))
    return round(value, 4 - value.adjusted())


def latest_published_day(now: datetime) -> date:
    """The last business day whose 16:00 Frankfurt release is at or before `now`."""
    local = now.astimezone(FRANKFURT)
    day = local.date() if local.time() >= PUBLISHED_AT else local.date() - timedelta(days=1)
    while not is_target_business_day(day):
        day -= timedelta(days=1)
    return day


def published_days(now: datetime, calendar_days: int) -> list[date]:
    """Business days published within the last `calendar_days` days before `now`, newest first."""
    last = latest_published_day(now)
    first = now.astimezone(FRANKFURT).date() - timedelta(days=calendar_days - 1)
    count = (last - first).days + 1
    days = [last - timedelta(days=n) for n in range(max(count, 1))]
    return [d for d in days if is_target_business_day(d)]


def eurofxref_xml(seed: int, days: list[date]) -> str:
    """A `gesmes:Envelope` holding the rates of `days`, as the ECB writes it."""
    cubes = "".join(
        f"\n\t\t<Cube time='{day.isoformat()}'>"
        + "".join(
            f"\n\t\t\t<Cube currency='{currency}' rate='{rate(seed, currency, day)}'/>"
            for currency in QUOTED
        )
        + "\n\t\t</Cube>"
        for day in days
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
        'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">\n'
        "\t<gesmes:subject>Reference rates</gesmes:subject>\n"
        "\t<gesmes:Sender>\n\t\t<gesmes:name>European Central Bank</gesmes:name>\n"
        f"\t</gesmes:Sender>\n\t<Cube>{cubes}\n\t</Cube>\n</gesmes:Envelope>\n"
    )


class EcbFxSimulator:
    """Serves `eurofxref-daily.xml` and `eurofxref-hist-90d.xml` as of the world's `now`."""

    platform = "ecb_fx"
    host = ECB_HOST

    def __init__(self, world: SandboxWorld, faults: FaultPlan | None = None) -> None:
        self.world = world
        self.dice = FaultDice(faults or FaultPlan(), self.platform)

    def use_faults(self, plan: FaultPlan) -> None:
        """Switch to another fault plan from the next request on."""
        self.dice = FaultDice(plan, self.platform)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer a GET of one of the two feed files as the ECB's web server would."""
        if request.method != "GET":
            return httpx.Response(405, text="Method Not Allowed")
        if self.dice.roll(Fault.SERVER_ERROR):
            return httpx.Response(503, text="Service Unavailable")
        path = request.url.path
        if path == DAILY_PATH:
            days = [latest_published_day(self.world.now)]
        elif path == HISTORY_90D_PATH:
            days = published_days(self.world.now, 90)
        else:
            return httpx.Response(404, text=f"Not Found: {path}")
        return httpx.Response(
            200,
            text=eurofxref_xml(self.world.seed, days),
            headers={"Content-Type": "text/xml"},
        )
