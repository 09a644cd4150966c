import json
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa

from ownlay_pipelines.events.lake_rows import EVENT_LAKE_SCHEMA, event_day, to_lake_row, to_micros
from ownlay_pipelines.events.model import EventValidationContext, OwnlayEvent, TimestampPolicy
from ownlay_pipelines.privacy.keyed_hash import PiiHasher
from ownlay_pipelines_tests.ingest.payloads import NOW, RAW_EMAIL, RAW_IP, ownlay_event

CONTEXT = EventValidationContext(now=NOW, policy=TimestampPolicy())
HASHER = PiiHasher(b"k" * 32)


def _row(payload: dict) -> dict:
    event = OwnlayEvent.model_validate(payload, context=CONTEXT)
    return to_lake_row(event, workspace_id="acme", received_at=NOW, hasher=HASHER)


def test_row_fits_the_lake_schema_and_holds_no_raw_pii():
    row = _row(ownlay_event())

    table = pa.Table.from_pylist([row], schema=EVENT_LAKE_SCHEMA)

    assert table.num_rows == 1
    text = json.dumps(row)
    assert RAW_IP not in text
    assert RAW_EMAIL not in text
    assert row["email_hash"] == HASHER.hash_email(RAW_EMAIL)
    assert len(row["ip_hash"]) == 64


def test_flat_columns_come_from_seed_000_nesting_and_the_user_agent():
    row = _row(ownlay_event())

    assert row["event_type"] == "purchase"
    assert row["campaign_id"] == "120210000000001"
    assert row["utm_source"] == "google"
    assert row["path"] == "/checkout/thanks"
    assert (row["device_type"], row["os"], row["browser"]) == ("mobile", "iOS", "Mobile Safari")
    assert row["country"] == "US"
    assert json.loads(row["properties"]) == {
        "currency": "USD",
        "order_id": "#1001",
        "revenue": 99.99,
    }


def test_email_in_properties_is_hashed_and_removed():
    payload = ownlay_event(properties={"email": "Sam@Example.com", "plan": "pro"})
    payload.pop("email")

    row = _row(payload)

    assert row["email_hash"] == HASHER.hash_email("sam@example.com")
    assert json.loads(row["properties"]) == {"plan": "pro"}


def test_event_stamped_slightly_ahead_is_filed_at_arrival_with_the_client_time_kept():
    ahead = NOW + timedelta(minutes=3)

    row = _row(ownlay_event(timestamp=ahead.isoformat()))

    assert row["created_at"] == to_micros(NOW)
    assert row["client_timestamp"] == to_micros(ahead)


def test_event_day_is_the_utc_date_of_created_at():
    row = _row(ownlay_event(timestamp="2026-11-20T23:30:00-05:00"))

    assert event_day(row) == date(2026, 11, 21)
    assert to_micros(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)) == 1_000_000
