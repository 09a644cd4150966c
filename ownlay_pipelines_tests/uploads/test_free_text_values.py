"""Free text of the loaded rows (campaign and account names, UTM values) is stored with e-mails,
phones and IPs masked, whether the column is a dictionary or plain text."""

from __future__ import annotations

from ownlay_pipelines.uploads.free_text_values import masked_values, masking_transform
from ownlay_pipelines.uploads.kinds import UploadKind
from ownlay_pipelines_tests.uploads.files import rows, upload


def test_a_lone_campaign_column_is_masked_and_the_id_it_stands_for_too(tmp_path):
    # Few values: the campaign column is a dictionary; the id is the name.
    text = (
        "Date,Campaign,Network,Spend\n"
        "2026-11-21,Retarget jane.doe@example.com,Pinterest,1.00\n"
        "2026-11-21,Pins 2026-11,Pinterest,2.00\n"
        "2026-11-22,Call +1 212-555-0123,Reddit,3.00\n"
    )
    upload(tmp_path, text)

    assert [(r["campaign_id"], r["campaign_name"]) for r in rows(tmp_path)] == [
        ("Retarget [email]", "Retarget [email]"),
        ("Pins 2026-11", "Pins 2026-11"),
        ("Call [phone]", "Call [phone]"),
    ]


def test_campaign_and_account_text_columns_are_masked_per_distinct_value(tmp_path):
    # Id and name both mapped: plain text columns, masked through one DISTINCT scan each.
    text = (
        "Date,Campaign ID,Campaign,Account,Spend\n"
        "2026-11-21,c1,Retarget jane.doe@example.com,acct 203.0.113.7,1.00\n"
        "2026-11-21,c2,Pins,Main,2.00\n"
        "2026-11-22,,Retarget jane.doe@example.com,Main,3.00\n"
    )
    upload(tmp_path, text)

    assert [(r["account_id"], r["campaign_id"], r["campaign_name"]) for r in rows(tmp_path)] == [
        ("acct [ip]", "c1", "Retarget [email]"),
        ("Main", "c2", "Pins"),
        ("Main", "Retarget [email]", "Retarget [email]"),
    ]


def test_utm_values_of_orders_and_events_are_masked(tmp_path):
    orders = "order_id,date,total,utm_source,utm_campaign\n1,2026-11-21,10.00,news,for jane@x.io\n"
    events = "timestamp,event,utm_source,utm_medium\n2026-11-21T10:00:00Z,purchase,a@b.io,cpc\n"
    upload(tmp_path, orders, name="orders.csv", kind=UploadKind.ORDERS)
    upload(tmp_path, events, name="events.csv", kind=UploadKind.EVENTS)

    [order] = rows(tmp_path, "raw/uploads/orders")
    [event] = rows(tmp_path, "raw/uploads/events")
    assert (order["utm_source"], order["utm_campaign"]) == ("news", "for [email]")
    assert (event["utm_source"], event["utm_medium"]) == ("[email]", "cpc")


def test_only_values_that_change_are_looked_up():
    changes = masked_values(["Pins", "mail a@b.io", "2026-11-21", "+14155550123"])

    assert changes == {"mail a@b.io": "mail [email]", "+14155550123": "[phone]"}
    assert masking_transform({}) is None
    transform = masking_transform(changes)
    assert transform is not None and "COALESCE(MAP {" in transform("v_campaign_name")
