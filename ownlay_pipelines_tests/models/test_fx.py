"""ECB feed parsing, the FX table, and conversion in SQL (cross rates, weekends, missing rates)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import pytest

from ownlay_pipelines.models.fx import (
    FACTOR_VIEW,
    FxRateMissing,
    converted,
    create_fx_views,
    fx_rates_path,
    merge_rates,
    require_rates,
)
from ownlay_pipelines.models.fx_feed import FxFeedError, FxRate, fetch_rates, parse_eurofxref
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.fx import is_target_business_day, latest_published_day, rate
from ownlay_pipelines.sandbox.transport import sandbox_transport
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE

# Verbatim shape of https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml (two currencies
# kept, and a second day as in eurofxref-hist-90d.xml).
ECB_DOCUMENT = """<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<gesmes:subject>Reference rates</gesmes:subject>
	<gesmes:Sender>
		<gesmes:name>European Central Bank</gesmes:name>
	</gesmes:Sender>
	<Cube>
		<Cube time='2026-11-16'>
			<Cube currency='USD' rate='1.1000'/>
			<Cube currency='GBP' rate='0.88000'/>
		</Cube>
		<Cube time='2026-11-13'>
			<Cube currency='USD' rate='1.0800'/>
			<Cube currency='GBP' rate='0.86400'/>
		</Cube>
	</Cube>
</gesmes:Envelope>"""
FRIDAY, SATURDAY, SUNDAY, MONDAY = (date(2026, 11, d) for d in (13, 14, 15, 16))


def test_the_ecb_envelope_parses_into_rates_per_day_with_eur_as_one():
    rates = parse_eurofxref(ECB_DOCUMENT.encode())
    assert rates == [
        FxRate(FRIDAY, "EUR", Decimal(1)),
        FxRate(FRIDAY, "GBP", Decimal("0.86400")),
        FxRate(FRIDAY, "USD", Decimal("1.0800")),
        FxRate(MONDAY, "EUR", Decimal(1)),
        FxRate(MONDAY, "GBP", Decimal("0.88000")),
        FxRate(MONDAY, "USD", Decimal("1.1000")),
    ]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("<gesmes:Envelope", "not well-formed XML"),
        ("<Envelope/>", "not gesmes:Envelope"),
        (
            '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"/>',
            "has no Cube element",
        ),
        (ECB_DOCUMENT.replace("2026-11-13", "13.11.2026"), "time='13.11.2026' is not a YYYY"),
        (ECB_DOCUMENT.replace("rate='1.1000'", "rate='n/a'"), "rate='n/a' for USD on 2026-11-16"),
        (ECB_DOCUMENT.replace("rate='1.1000'", "rate='-1'"), "is not a positive decimal"),
        (ECB_DOCUMENT.replace("currency='GBP'", "currency='pound'", 1), "'pound' on 2026-11-16"),
        (ECB_DOCUMENT.replace("2026-11-13", "2026-11-16"), "time=2026-11-16 appears twice"),
        (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
            "refused unsafe XML",
        ),
    ],
)
def test_a_malformed_feed_is_refused_naming_the_problem(document: str, message: str):
    with pytest.raises(FxFeedError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_eurofxref(document.encode(), source="test feed")


def test_an_http_error_is_a_feed_error_naming_the_url_and_status():
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(503)))
    with pytest.raises(FxFeedError, match=r"eurofxref-daily\.xml answered HTTP 503"):
        fetch_rates(client, history=False)


def _fx_connection(lake: Path, reporting: str) -> duckdb.DuckDBPyConnection:
    merge_rates(lake, parse_eurofxref(ECB_DOCUMENT))
    connection = duckdb.connect()
    create_fx_views(connection, lake, reporting, FRIDAY, MONDAY)
    return connection


def test_cross_rates_go_through_the_euro_and_weekends_use_fridays_rates(tmp_path: Path):
    connection = _fx_connection(tmp_path, "USD")
    factors = {
        (day, currency): (rate_date, factor)
        for day, currency, rate_date, factor in connection.sql(
            f"SELECT day, currency, rate_date, factor FROM {FACTOR_VIEW}"
        ).fetchall()
    }
    # GBP → USD on Friday: 1 GBP = 1/0.864 EUR = 1.08/0.864 USD = 1.25 USD.
    assert factors[(FRIDAY, "GBP")] == (FRIDAY, pytest.approx(1.25))
    # Saturday and Sunday have no publication: Friday's rates apply.
    assert factors[(SATURDAY, "GBP")] == (FRIDAY, pytest.approx(1.25))
    assert factors[(SUNDAY, "EUR")] == (FRIDAY, pytest.approx(1.08))
    assert factors[(MONDAY, "GBP")] == (MONDAY, pytest.approx(1.25))
    assert factors[(MONDAY, "EUR")] == (MONDAY, pytest.approx(1.1))


def test_conversion_happens_in_sql_at_each_days_rate_and_rounds_to_the_lake_scale(tmp_path: Path):
    connection = _fx_connection(tmp_path, "EUR")
    connection.execute(
        "CREATE TABLE spend AS SELECT * FROM (VALUES "
        "(DATE '2026-11-14', 'USD', 100.00::DECIMAL(20, 6)), "
        "(DATE '2026-11-16', 'USD', 100.00::DECIMAL(20, 6)), "
        "(DATE '2026-11-16', 'EUR', 7.00::DECIMAL(20, 6))) t(report_date, currency, amount)"
    )
    rows = connection.sql(
        f"SELECT x.report_date, x.currency, "
        f"{converted('x.amount', 'x.currency', 'fx.factor', 'EUR')} AS eur "
        f"FROM spend x LEFT JOIN {FACTOR_VIEW} fx "
        "ON fx.day = x.report_date AND fx.currency = x.currency ORDER BY 1, 2"
    ).fetchall()
    assert rows == [
        (SATURDAY, "USD", Decimal("92.592593")),  # 100 / 1.08 (Friday's rate)
        (MONDAY, "EUR", Decimal("7.000000")),  # already in EUR: never converted
        (MONDAY, "USD", Decimal("90.909091")),  # 100 / 1.10
    ]


def test_an_amount_without_a_rate_fails_naming_currency_and_day(tmp_path: Path):
    connection = _fx_connection(tmp_path, "EUR")
    connection.execute(
        "CREATE TABLE spend AS SELECT DATE '2026-11-16' AS report_date, 'THB' AS currency"
    )
    with pytest.raises(FxRateMissing, match="into EUR for THB on 2026-11-16"):
        require_rates(
            connection, "spend", day="report_date", currency="currency", reporting_currency="EUR"
        )


def test_merging_is_idempotent_and_a_refetched_day_replaces_the_stored_one(tmp_path: Path):
    first = merge_rates(tmp_path, parse_eurofxref(ECB_DOCUMENT))
    again = merge_rates(tmp_path, parse_eurofxref(ECB_DOCUMENT))
    assert first.equals(again) and first.num_rows == 6
    corrected = merge_rates(tmp_path, [FxRate(MONDAY, "USD", Decimal("1.1111"))])
    assert corrected.num_rows == 4  # Monday's three rows became the one re-published row
    assert fx_rates_path(tmp_path).exists()


def test_the_sandbox_serves_business_days_only_after_the_afternoon_release():
    registry = load_registry(DEFAULT_REGISTRY_FILE)
    # Monday 2026-11-16, 14:00 UTC = 15:00 Frankfurt: Monday's rates are not out yet.
    before = SandboxWorld(registry, now=datetime(2026, 11, 16, 14, tzinfo=UTC))
    after = SandboxWorld(registry, now=datetime(2026, 11, 16, 15, 30, tzinfo=UTC))
    assert latest_published_day(before.now) == FRIDAY
    daily = fetch_rates(httpx.Client(transport=sandbox_transport(after)), history=False)
    assert {r.rate_date for r in daily} == {MONDAY}
    assert {r.currency: r.rate for r in daily}["USD"] == rate(after.seed, "USD", MONDAY)
    history = fetch_rates(httpx.Client(transport=sandbox_transport(after)), history=True)
    days = {r.rate_date for r in history}
    assert SATURDAY not in days and SUNDAY not in days
    assert date(2026, 10, 30) in days and all(is_target_business_day(d) for d in days)
    assert not is_target_business_day(date(2026, 12, 25))
    assert not is_target_business_day(date(2026, 4, 3))  # Good Friday 2026
