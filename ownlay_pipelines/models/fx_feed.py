"""The ECB's euro foreign exchange reference rates, in their real XML wire format.

The ECB publishes one set of reference rates per TARGET business day, around 16:00 CET, as
"units of currency per 1 EUR" (e.g. USD 1.0921). Two files are used:

- `eurofxref-daily.xml`: the latest business day only;
- `eurofxref-hist-90d.xml`: the last 90 days of business days (the backfill and the catch-up
  after missed days).

Both are a `gesmes:Envelope` whose default namespace holds nested `Cube` elements:
`<Cube><Cube time="2026-11-18"><Cube currency="USD" rate="1.0921"/>…</Cube>…</Cube>`.
Days without a publication (weekends, TARGET holidays) are simply absent from the feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import httpx
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

ECB_HOST = "www.ecb.europa.eu"
DAILY_PATH = "/stats/eurofxref/eurofxref-daily.xml"
HISTORY_90D_PATH = "/stats/eurofxref/eurofxref-hist-90d.xml"
GESMES_NS = "http://www.gesmes.org/xml/2002-08-01"
EUROFXREF_NS = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
BASE_CURRENCY = "EUR"


class FxFeedError(ValueError):
    """The feed cannot be used; the message says which element or attribute is wrong and why."""


@dataclass(frozen=True, order=True)
class FxRate:
    """One published reference rate: `rate` units of `currency` buy one euro on `rate_date`."""

    rate_date: date
    currency: str
    rate: Decimal


def parse_eurofxref(body: bytes | str, source: str = "ECB feed") -> list[FxRate]:
    """Every rate of an eurofxref document, plus EUR = 1 for each published day, sorted.

    Raises FxFeedError naming the problem for anything that is not a well-formed eurofxref
    envelope: XML syntax errors, entity tricks, a missing `Cube`, a bad `time`, `currency` or
    `rate`, or a day listed twice.
    """
    try:
        root = ElementTree.fromstring(body)
    except DefusedXmlException as exc:
        raise FxFeedError(f"{source}: refused unsafe XML ({type(exc).__name__})") from exc
    except ElementTree.ParseError as exc:
        raise FxFeedError(f"{source}: not well-formed XML ({exc})") from exc
    if root.tag != f"{{{GESMES_NS}}}Envelope":
        raise FxFeedError(f"{source}: root element is {root.tag!r}, not gesmes:Envelope")
    outer = root.find(f"{{{EUROFXREF_NS}}}Cube")
    if outer is None:
        raise FxFeedError(f"{source}: the envelope has no Cube element")
    rates: list[FxRate] = []
    seen: set[date] = set()
    for day_cube in outer.findall(f"{{{EUROFXREF_NS}}}Cube"):
        day = _date(day_cube.get("time"), source)
        if day in seen:
            raise FxFeedError(f"{source}: Cube time={day.isoformat()} appears twice")
        seen.add(day)
        rates.append(FxRate(day, BASE_CURRENCY, Decimal(1)))
        for cube in day_cube.findall(f"{{{EUROFXREF_NS}}}Cube"):
            rates.append(
                FxRate(day, _currency(cube.get("currency"), day, source), _rate(cube, day, source))
            )
    if not seen:
        raise FxFeedError(f"{source}: no Cube time=… element, so no rates were published")
    return sorted(rates)


def _date(text: str | None, source: str) -> date:
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        raise FxFeedError(f"{source}: Cube time={text!r} is not a YYYY-MM-DD date") from None


def _currency(text: str | None, day: date, source: str) -> str:
    if not text or len(text) != 3 or not text.isascii() or not text.isupper():
        raise FxFeedError(
            f"{source}: Cube currency={text!r} on {day.isoformat()} is not an ISO 4217 code"
        )
    return text


def _rate(cube: object, day: date, source: str) -> Decimal:
    text = cube.get("rate")  # type: ignore[attr-defined]
    try:
        rate = Decimal(text or "")
    except InvalidOperation:
        rate = Decimal(0)
    if not rate.is_finite() or rate <= 0:
        raise FxFeedError(
            f"{source}: Cube rate={text!r} for {cube.get('currency')} on "  # type: ignore[attr-defined]
            f"{day.isoformat()} is not a positive decimal"
        )
    return rate


def fetch_rates(client: httpx.Client, *, history: bool) -> list[FxRate]:
    """GET the 90-day history (`history`) or the latest day from the ECB host and parse it.

    `client` decides where requests go: the real host, or the sandbox transport.
    """
    url = f"https://{ECB_HOST}{HISTORY_90D_PATH if history else DAILY_PATH}"
    try:
        response = client.get(url)
    except httpx.TransportError as exc:
        raise FxFeedError(f"GET {url} failed: {type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        raise FxFeedError(f"GET {url} answered HTTP {response.status_code}")
    return parse_eurofxref(response.content, source=url)
