"""Free text as marketing data carries it: campaign names, UTM values, page titles, search
queries, referrers and property values, with contact data written in the forms people and tools
actually produce (glued to a label, internationalised, entity- or percent-encoded, national phone
formats), and the look-alikes (versions, prices, dates, order ids, SKUs) that must stay as they
are. Each table row says what docs/privacy.md promises for that form."""

from __future__ import annotations

import duckdb
import pytest

from ownlay_pipelines.privacy.free_text import mask_contact_data
from ownlay_pipelines.privacy.identifiers import contact_kind
from ownlay_pipelines.privacy.patterns import MAY_HOLD_CONTACT_DATA_RE2

MASKED = [
    # An IP glued to the label before it, or to letters after it.
    ("ip203.0.113.77", "ip[ip]"),
    ("client ip203.0.113.77x", "client ip[ip]x"),
    ("host=10.1.2.3abc", "host=[ip]abc"),
    ("ip:203.0.113.77", "ip:[ip]"),
    ("srv_ip=203.0.113.77:8080", "srv_ip=[ip]:8080"),
    ("ip:2001:db8::1", "ip:[ip]"),
    ("addr=fe80::1%eth0", "addr=[ip]%eth0"),
    ("host=2001:db8::1xyz", "host=[ip]xyz"),
    ("ip2001:db8::1", "ip[ip]"),
    ("ipv6:2001:db8::1", "ipv[ip]"),
    ("utm_content=visitor-2001:db8:85a3::8a2e:370:7334", "utm_content=visitor-[ip]"),
    # E-mail addresses with internationalised domains or local parts, a fullwidth or small
    # commercial at, an HTML entity for the at, a bracketed (at).
    ("jane@müller.de", "[email]"),
    ("Kontakt: jöhn.doe@example.com", "Kontakt: [email]"),
    ("jane@xn--mller-kva.de", "[email]"),
    ("jane@example.xn--p1ai", "[email]"),
    ("用户@例子.广告 联系", "[email] 联系"),
    ("почта: иван@пример.рф", "почта: [email]"),
    ("jane＠example.com", "[email]"),
    ("jane﹫example.com", "[email]"),
    ("jane.doe&#64;example.com", "[email]"),
    ("Jane&#064;Example.com", "[email]"),
    ("jane.doe&#x40;example.com", "[email]"),
    ("jane.doe&commat;example.com", "[email]"),
    ("Impressum: jane.doe(at)example.de", "Impressum: [email]"),
    ("jane.doe [at] example.com", "[email]"),
    ("utm_term=jane%40m%C3%BCller.de", "utm_term=[email]"),
    ("/u/%E7%94%A8%E6%88%B7@%E4%BE%8B%E5%AD%90.%E5%B9%BF%E5%91%8A/", "/u/[email]/"),
    # National phone numbers: a trunk 0 then an area code, the subscriber number in one long
    # group (Germany, the UK), a slash after the area code, a (0) after the country code, 00
    # for the +, the dashes word processors put in a hyphen's place, tel: links.
    ("Hotline 030 12345678", "Hotline [phone]"),
    ("030/12345678", "[phone]"),
    ("(030) 12345678", "[phone]"),
    ("Tel.: 030-1234567", "Tel.: [phone]"),
    ("mobil 0151 23456789", "mobil [phone]"),
    ("0151-23456789", "[phone]"),
    ("07911 123456", "[phone]"),
    ("0049 30 12345678", "[phone]"),
    ("+49 (0)30 12345678", "[phone]"),
    ("+49(0)30-12345678", "[phone]"),
    ("+44 (0) 20 7946 0958", "[phone]"),
    ("+1 (415) 555\u20110123", "[phone]"),
    ("call 415\u2013555\u20130123", "call [phone]"),
    ("\uff14\uff11\uff15\u2212\uff15\uff15\uff15\u2212\uff10\uff11\uff12\uff13", "[phone]"),
    ("tel:4155550123", "tel:[phone]"),
    ("TEL:4155550123", "TEL:[phone]"),
    ("href=tel%3A4155550123", "href=tel:[phone]"),
    ("Tel.415-555-0123", "Tel.[phone]"),
    ("spring_sale_415-555-0123", "spring_sale_[phone]"),
    # The written forms masked before this change stay masked.
    ("(415) 555-0123", "[phone]"),
    ("415.555.0123", "[phone]"),
    ("415 555 0123", "[phone]"),
    ("+1-415-555-0123", "[phone]"),
    ("1-800-555-0199", "[phone]"),
    ("+33 6 12 34 56 78", "[phone]"),
    ("06 12 34 56 78", "[phone]"),
    ("020 7946 0958", "[phone]"),
    ("%2B1%20415%20555%200123", "[phone]"),
    ("q=jane%2Bshop%40example.com", "q=[email]"),
    ("mailto:jane@example.com", "mailto:[email]"),
    ("x-forwarded-for: 203.0.113.77, 10.0.0.1", "x-forwarded-for: [ip], [ip]"),
    ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[ip]"),
    # Masked by design although no contact data: a dotted quad of octets is an address
    # whatever it stands for, and Spanish or Polish numbers are nine digits in groups of three
    # (`612 345 678`), which an amount of nine or more digits written in groups is too.
    ("version 1.2.3.4", "version [ip]"),
    ("0.0.0.0 placeholder", "[ip] placeholder"),
    ("SKU 123-456-789", "SKU [phone]"),
    ("USD 1.234.567.890", "USD [phone]"),
    # An article number in the shape of a national number: a trunk 0, an area code, a group.
    ("Art.-Nr. 0123-4567890", "Art.-Nr. [phone]"),
]

KEPT = [
    # Versions, written as such.
    "v1.2.3.4",
    "release V10.0.0.1",
    "app 10.4.2",
    "model 3.14.15",
    # Prices and amounts: eight digits or fewer, or not in groups.
    "Price $1,299.99",
    "€ 1.299,00",
    "€1.234.567,89",
    "1,000,000 impressions",
    "Black Friday -50% off",
    "100% cotton",
    "+25%",
    "Item 12.50 x 3",
    "0.5 12345678",
    # Dates and times.
    "2026-11-21",
    "21.11.2026",
    "11/21/2026",
    "05/11/2026",
    "2026-11-21 14:30",
    "01.11.2026 18:22",
    "at 11:30",
    "10:00-18:00",
    "ratio 16:9",
    # Order ids, SKUs, ad ids, tracking numbers: bare runs of digits, or digits glued to
    # letters.
    "Order #100234567",
    "order 0012345678",
    "SKU TENT-2P-GRN-0042",
    "INV2026-000123-45",
    "120210000000001",
    "tracking 1Z999AA10123456784",
    "EAN 4006381333931",
    "campaign_2026_11_21",
    "lot 20261121-001",
    "DE_Search_Brand_0815_2026",
    "FB | Prospecting | 25-34 | DE",
    "Q1-2026_0101-0331",
    "Aktion 01.12.2026-24.12.2026",
    "Zeitraum 01.11.2026 - 30.11.2026",
    "PLZ 01067 Dresden",
    "Los 012345 678",
    "/p/12345/67890",
    "/de/c/0123/456789",
    "GA1.2.1234567890.1700000000",
    "fb.1.1596403881668.1116446470",
    # Code-ish text with colons, and handles.
    "std::vector",
    "Array::filter",
    "Cache::add",
    "Foo::Bar::baz",
    "Mon::Tue",
    "std::cerr",
    "12:34:56:78",
    "@acme on twitter",
    "follow @jane_doe",
    "user@",
    "@example.com",
    "Q4 2026 brand",
    "2 for 1",
    "Spring Sale 2026 – up to 50% off",
    "Two-person tents | Acme Outdoor",
    "Acme :: Tents :: Two-person",
    "Tom &amp; Jerry",
    "lat 52.5200 lon 13.4050",
    "rgb(255, 255, 255)",
    "width=1920&height=1080",
]

NOT_MASKED_BY_DESIGN = [
    # A bare run of digits is an id far more often than a phone number (docs/privacy.md).
    "call 4155550123",
    # No dotted domain: not an address mail can be sent to from outside.
    "jane@localhost",
    # Spelled out: indistinguishable from ordinary words.
    "jane at example dot com",
    "jane.doe @ example.com",
    # A quoted local part: practically unused, and quotes around words are common.
    '"jane"@example.com',
    # Base64 of jane@example.com: decoding every token that happens to be valid base64 would
    # turn ids and click ids into gibberish matches; base64 payloads in URLs are tokens, removed
    # by name (`token`, `sig`, …) with their parameter.
    "amFuZUBleGFtcGxlLmNvbQ==",
    # A US number with a slash after the area code: a slash between digit groups is a path
    # or a date far more often.
    "415/555-0123",
    # Spaced dashes join ranges and scores.
    "415 - 555 - 0123",
]


@pytest.mark.parametrize(("text", "masked"), MASKED)
def test_contact_data_in_its_written_forms_is_masked(text: str, masked: str):
    assert mask_contact_data(text) == masked


@pytest.mark.parametrize("text", KEPT + NOT_MASKED_BY_DESIGN)
def test_look_alikes_of_contact_data_are_kept_as_they_are(text: str):
    assert mask_contact_data(text) == text


IDENTIFIERS = [
    ("ip203.0.113.77", "ip"),
    ("node_ip2001:db8::7", "ip"),
    ("jane＠example.com", "email"),
    ("jane&#64;example.com", "email"),
    ("contact(at)example.de", "email"),
    ("visitor_030-12345678", "phone"),
    ("tel:4155550123", "phone"),
    ("v1.2.3.4", None),
    ("tenant::user42", None),
    ("acme::bead", None),
    ("order-0012345678", None),
    ("GA1.2.1234567890.1700000000", None),
]
"""Identifiers and the kind of contact data `contact_kind` finds in them."""


@pytest.mark.parametrize(("value", "kind"), IDENTIFIERS)
def test_identifiers_are_refused_for_the_same_written_forms(value: str, kind: str | None):
    assert contact_kind(value) == kind


def test_the_sql_prefilter_lets_through_every_text_python_masks_or_refuses():
    # Uploads mask only the values the RE2 prefilter picks (uploads/free_text_values.py), and
    # check only those ids (uploads/convert.py): a value Python would mask but the prefilter
    # skips would be stored unmasked, an id holding contact data would be loaded.
    texts = [text for text, _ in MASKED] + KEPT + NOT_MASKED_BY_DESIGN
    changed = [text for text in texts if mask_contact_data(text) != text]
    assert len(changed) == len(MASKED)
    changed += [value for value, kind in IDENTIFIERS if kind is not None]
    with duckdb.connect() as connection:
        matched = connection.execute(
            "SELECT list(t ORDER BY i) FILTER (WHERE regexp_matches(t, $pattern)) "
            "FROM (SELECT unnest($texts) AS t, generate_subscripts($texts, 1) AS i)",
            {"pattern": MAY_HOLD_CONTACT_DATA_RE2, "texts": changed},
        ).fetchone()[0]
    assert matched == changed


def test_an_app_version_in_a_user_agent_is_not_a_phone_number():
    # Instagram's in-app browser, where many ad clicks land, writes its version with a space
    # before it: 12 digits in dotted groups, which in other text is a phone number.
    agent = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 Instagram 309.1.0.41.113 (iPhone14,5; iOS 17_1_2; "
        "en_US; en; scale=3.00; 1170x2532; 541635890)"
    )

    assert mask_contact_data(agent, user_agent=True) == agent
    assert mask_contact_data(f"{agent} call 415.555.0123 or 030 1234567", user_agent=True) == (
        f"{agent} call [phone] or [phone]"
    )
    assert mask_contact_data("Instagram 309.1.0.41.113") == "Instagram [phone]"
