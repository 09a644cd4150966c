"""The loaded rows follow the privacy classes: free text (campaign and account names, UTM values)
is stored with e-mails, phones and IPs masked, whether the column is a dictionary or plain text;
an events file's id holding contact data makes its row a bad row."""

from __future__ import annotations

import json

from ownlay_pipelines.uploads.free_text_values import masked_values, masking_transform
from ownlay_pipelines.uploads.kinds import UploadKind
from ownlay_pipelines.uploads.sample import WHOLE_FILE_BYTES
from ownlay_pipelines_tests.uploads.files import rows, upload

EVENT = "2026-11-21T10:00:00Z,purchase"
ROWS = 40_000


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


def test_an_events_id_holding_contact_data_is_a_bad_row_and_masked_in_the_quarantine(tmp_path):
    text = (
        "timestamp,event,anonymous_id,user_id\n"
        f"{EVENT},a1,u-2026-11\n"  # digit groups, yet no phone number: kept
        f"{EVENT},jane@x.io,u1\n"
        f"{EVENT},a2,+1 212-555-0123\n"
        f"{EVENT},203.0.113.7,u3\n"
    )
    result = upload(tmp_path, text, name="events.csv", kind=UploadKind.EVENTS)

    assert [(r["anonymous_id"], r["user_id"]) for r in rows(tmp_path, "raw/uploads/events")] == [
        ("a1", "u-2026-11")
    ]
    why = "; an id column takes stable ids, never contact data"
    assert result.reasons == {
        f"anonymous_id: holds an e-mail address{why}": 1,
        f"user_id: holds a phone number{why}": 1,
        f"anonymous_id: holds an IP address{why}": 1,
    }
    quarantined = rows(tmp_path, "quarantine/uploads/events", order="line")
    assert [q["line"] for q in quarantined] == [3, 4, 5]
    assert [json.loads(q["raw_record"])["anonymous_id"] for q in quarantined] == [
        "[email]",
        "a2",
        "[ip]",
    ]
    assert json.loads(quarantined[1]["raw_record"])["user_id"] == "[phone]"


def test_an_events_id_holding_contact_data_in_other_written_forms_is_a_bad_row(tmp_path):
    # Each passes the SQL prefilter to the Python check: an IP glued to its label, an entity
    # for the `@`, a tel: link, a national number after an underscore.
    text = (
        "timestamp,event,anonymous_id,user_id\n"
        f"{EVENT},a1,v1.2.3.4\n"  # a version: kept
        f"{EVENT},ip203.0.113.7,u1\n"
        f"{EVENT},jane&#64;x.io,u2\n"
        f"{EVENT},a3,tel:4155550123\n"
        f"{EVENT},visitor_030-12345678,u4\n"
    )
    result = upload(tmp_path, text, name="events.csv", kind=UploadKind.EVENTS)

    assert [(r["anonymous_id"], r["user_id"]) for r in rows(tmp_path, "raw/uploads/events")] == [
        ("a1", "v1.2.3.4")
    ]
    why = "; an id column takes stable ids, never contact data"
    assert result.reasons == {
        f"anonymous_id: holds an IP address{why}": 1,
        f"anonymous_id: holds an e-mail address{why}": 1,
        f"user_id: holds a phone number{why}": 1,
        f"anonymous_id: holds a phone number{why}": 1,
    }


def test_a_value_outside_the_sample_of_a_dictionary_column_is_masked_too(tmp_path):
    # 97 campaign names fill the sample: the column is a dictionary; the one name with an
    # e-mail sits between two sampled slices, so it reaches the load as a value the sample lacks.
    body = [f"2026-11-21,Campaign {i % 97},1.00" for i in range(ROWS)]
    body[ROWS // 2 + 17] = "2026-11-21,Retarget jane.doe@example.com,1.00"
    text = "Date,Campaign,Spend\n" + "\n".join(body) + "\n"
    assert len(text) > WHOLE_FILE_BYTES

    upload(tmp_path, text)

    names = {r["source_line"]: r["campaign_name"] for r in rows(tmp_path)}
    assert names[ROWS // 2 + 19] == "Retarget [email]"
    assert names[2] == "Campaign 0"
    assert len(names) == ROWS


def test_campaign_names_holding_contact_data_in_other_written_forms_are_masked(tmp_path):
    # The SQL prefilter must let each of these through to the Python masking (docs/privacy.md):
    # an internationalised address, an HTML entity and `(at)` for the `@`, a national phone
    # number with its area code in brackets, an IP glued to its label.
    text = (
        "Date,Campaign,Account,Spend\n"
        "2026-11-21,Retarget jane@müller.de,acct ip203.0.113.7,1.00\n"
        "2026-11-21,Promo jane&#64;example.com,Main,2.00\n"
        "2026-11-21,Hotline (030) 12345678,Main,3.00\n"
        "2026-11-22,Impressum kontakt(at)example.de,Main,4.00\n"
        "2026-11-22,Spring Sale 2026 (v1.2.3.4),Main,5.00\n"
    )
    upload(tmp_path, text)

    assert [(r["account_id"], r["campaign_name"]) for r in rows(tmp_path)] == [
        ("acct ip[ip]", "Retarget [email]"),
        ("Main", "Promo [email]"),
        ("Main", "Hotline [phone]"),
        ("Main", "Impressum [email]"),
        ("Main", "Spring Sale 2026 (v1.2.3.4)"),
    ]
