import random

import duckdb
import pytest

from ownlay_pipelines.privacy.free_text import mask_contact_data
from ownlay_pipelines.privacy.identifiers import check_identifier, contact_kind
from ownlay_pipelines.privacy.patterns import MAY_HOLD_CONTACT_DATA_RE2
from ownlay_pipelines.privacy.properties import scrub_properties


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("write to jane.doe@example.com today", "write to [email] today"),
        ("/u/jane.doe%40example.com/orders", "/u/[email]/orders"),
        ("call +1 (415) 555-0123 now", "call [phone] now"),
        ("?ref=%2B14155550123", "?ref=[phone]"),
        ("415.555.0123", "[phone]"),
        ("0612 34 56 78", "[phone]"),
        ("2026-11-03 18:22 call 415-555-0123", "2026-11-03 18:22 call [phone]"),
        ("from 203.0.113.77.", "from [ip]."),
        ("via 2001:db8::1 at 11:30:00", "via [ip] at 11:30:00"),
        ("::ffff:203.0.113.77", "::ffff:[ip]"),
        ("http://203.0.113.77/landing", "http://[ip]/landing"),
        ("client_203.0.113.77 via_2001:db8::1", "client_[ip] via_[ip]"),
        # After a +country code the groups may be long (Berlin, Sydney, Dublin, Beijing).
        ("Tel. +49 30 12345678", "Tel. [phone]"),
        ("+49 (30) 12345678", "[phone]"),
        ("+61 2 12345678 / +353 1 2345678", "[phone] / [phone]"),
        ("+86-10-12345678", "[phone]"),
        ("+1 4155550123", "[phone]"),
        # Percent-encoding hides the separators the patterns look for; what the decoded text
        # reveals is masked, and the text is encoded again.
        ("/u/%3A%3Affff%3A203.0.113.77/p", "/u/%3A%3Affff%3A[ip]/p"),  # found as sent
        ("/u/%3A%3Affff%3Acb00%3A714d/p", "/u/[ip]/p"),  # ::ffff:cb00:714d, found decoded
        ("/u/2001%3Adb8%3A%3A1/p", "/u/[ip]/p"),
        ("call%20415%20555%200123", "call%20[phone]"),
        ("jane.doe%2540example.com", "[email]"),
    ],
)
def test_contact_and_network_data_inside_free_text_is_masked(text: str, masked: str):
    assert mask_contact_data(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "Spring sale 2026-11-21",
        "2026-11-21T11:30:00Z",
        # A date and its time as Shopify and spreadsheets write them: the date's and the hour's
        # digit groups are no phone number.
        "2026-11-03 18:22:07 -0500",
        "paid 03.11.2026 18:22",
        "11-03-2026 9:05 AM",
        "Order #1001 of 2 tents",
        "Two-person tents | Acme Outdoor",
        "120210000000001",
        "https://shop.example.com/tents/4?gclid=Cj0KCQ&utm_source=google",
        "/search?q=two%20person%20tents&page=2",
    ],
)
def test_ordinary_text_dates_and_numeric_ids_stay_as_they_are(text: str):
    assert mask_contact_data(text) == text


def test_user_agent_product_versions_are_not_mistaken_for_ips_or_phones():
    agent = "Mozilla/5.0 (X11) Chrome/120.0.0.0 Chrome/120.0.6099.109 Safari/537.36"

    assert mask_contact_data(agent, user_agent=True) == agent
    assert mask_contact_data(f"{agent} (contact 203.0.113.77)", user_agent=True) == (
        f"{agent} (contact [ip])"
    )


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("jane@example.com", "email"),
        ("visitor-jane%40example.com", "email"),
        ("+14155550123", "phone"),
        ("tel 415-555-0123", "phone"),
        ("203.0.113.77", "ip"),
        ("::ffff:203.0.113.77", "ip"),
        ("2001:db8::7", "ip"),
        ("user_1", None),
        ("v-0123abcd0123abcd", None),
        ("7f3c9a52-1b6e-4d0a-8c2f-000000000001", None),
        ("12345678-1234-1234-1234-123456789012", None),
        ("4155550123", None),
        ("+49 30 12345678", "phone"),
        # An underscore joins words in ids; it does not make an address part of a longer word.
        ("sess_203.0.113.77", "ip"),
        ("visitor_2001:db8::7", "ip"),
        ("v1.2.3.4", None),
        # Percent-encoded, as masking sees it too.
        ("sess%2F203.0.113.77", "ip"),
        ("anon%3A%3Affff%3A203.0.113.77", "ip"),
        ("call%20415%20555%200123", "phone"),
        ("utm%20spring%202026", None),
        ("release 2026 12345678", None),
    ],
)
def test_identifiers_holding_contact_data_are_recognised_and_plain_ids_are_not(
    value: str, kind: str | None
):
    assert contact_kind(value) == kind


def test_refused_identifier_says_what_to_send_instead():
    with pytest.raises(ValueError, match="contains an IP address; send a stable id"):
        check_identifier("203.0.113.77")


def test_properties_are_scrubbed_at_any_depth_keys_included():
    properties = {
        "revenue": 10,
        "customer": {
            "email": "jane@example.com",
            "note": "ring +44 20 7946 0958",
            "history": [{"ip": "198.51.100.4", "contact_phone": "555"}, "jane@example.com"],
        },
        "jane@example.com": True,
    }

    assert scrub_properties(properties) == {
        "revenue": 10,
        "customer": {"note": "ring [phone]", "history": [{"ip": "[ip]"}, "[email]"]},
        "[email]": True,
    }


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({"a": {"b": [float("inf")]}}, "properties.a.b[0] is not a finite number"),
        ({"big": 2**70}, "properties.big is an integer outside the 64-bit range"),
        ({"when": object()}, "properties.when is not a JSON value (object)"),
    ],
)
def test_non_json_values_in_properties_are_refused_with_their_path(properties, reason):
    with pytest.raises(ValueError) as caught:
        scrub_properties(properties)

    assert str(caught.value) == reason


def test_every_text_that_masking_changes_is_a_candidate_of_the_sql_pattern():
    # The SQL prefilter must never skip a value masking would change: the masking examples
    # above, and random strings of digits, separators, letters and the signs contact data uses.
    rng = random.Random(11)
    alphabet = "0123456789" * 4 + " .-+()@:%Bab\u00a0/٤١"
    texts = [
        "write to jane.doe@example.com today",
        "/u/jane.doe%40example.com/orders",
        "call +1 (415) 555-0123 now",
        "?ref=%2B14155550123",
        "via 2001:db8::1 at 11:30:00",
        "::ffff:203.0.113.77",
        "415\u00a0555\u00a00123",
        "+49 30 12345678",
        "/u/%3A%3Affff%3A203.0.113.77/p",
        "jane.doe%2540example.com",
        "٤١٥ ٥٥٥ ٠١٢٣ ٤",
    ]
    texts += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(5, 25))) for _ in range(20_000)
    ]
    changed = [t for t in texts if mask_contact_data(t) != t]
    with duckdb.connect() as connection:
        matched = connection.execute(
            "SELECT list(t ORDER BY i) FILTER (WHERE regexp_matches(t, $pattern)) "
            "FROM (SELECT unnest($texts) AS t, generate_subscripts($texts, 1) AS i)",
            {"pattern": MAY_HOLD_CONTACT_DATA_RE2, "texts": changed},
        ).fetchone()[0]
    assert len(changed) > 300
    assert matched == changed
