import hashlib
import hmac
from ipaddress import ip_address

import pytest

from ownlay_pipelines.privacy.keyed_hash import PiiHasher, PiiKeyMissing, optional_hasher
from ownlay_pipelines.privacy.properties import drop_sensitive_properties
from ownlay_pipelines.privacy.urls import strip_sensitive_url

KEY = b"k" * 32


def test_credentials_and_personal_parameters_are_stripped_but_click_ids_and_utms_stay():
    url = (
        "https://shop.example.com/checkout?email=jane%40example.com&gclid=Cj0&fbclid=IwAR"
        "&ttclid=E.C&utm_source=google&token=abc&password=hunter2&session_id=s1&phone=555"
        "&api_key=k&user_email=j&sku=TENT-2"
    )

    assert strip_sensitive_url(url) == (
        "https://shop.example.com/checkout?gclid=Cj0&fbclid=IwAR&ttclid=E.C&utm_source=google"
        "&sku=TENT-2"
    )


def test_contact_data_in_kept_query_values_is_masked_before_they_are_encoded_again():
    # Encoded again, `(415) 555-0123` and `::ffff:203.0.113.77` became `%28415%29+555-0123` and
    # `%3A%3Affff%3A203.0.113.77`, which the free-text patterns no longer see.
    url = "https://shop.example.com/p?c=(415) 555-0123&via=::ffff:203.0.113.77&q=two tents"

    assert strip_sensitive_url(url) == (
        "https://shop.example.com/p?c=[phone]&via=%3A%3Affff%3A[ip]&q=two+tents"
    )


def test_a_plus_in_a_query_value_is_read_as_sent_when_that_reveals_contact_data():
    # Form encoding reads '+' as a space, which cut 'jane.doe+shop@example.com' to 'jane.doe' and
    # an '[email]', and turned '+49 30 11223344' into digit groups no pattern takes for a phone.
    url = (
        "https://s.example/p?x=jane.doe+shop@example.com&d=+49 30 11223344&q=two+tents"
        "&y=call+415+555+0123"
    )

    assert strip_sensitive_url(url) == (
        "https://s.example/p?x=[email]&d=[phone]&q=two+tents&y=call+[phone]"
    )


def test_userinfo_and_fragment_are_removed():
    url = "https://admin:s3cret@shop.example.com:8443/cb#access_token=ya29"

    assert strip_sensitive_url(url) == "https://shop.example.com:8443/cb"


def test_ipv6_hosts_keep_their_brackets():
    assert strip_sensitive_url("http://[2001:db8::1]/p?key=x&q=1") == "http://[2001:db8::1]/p?q=1"


def test_sensitive_properties_are_dropped_and_others_kept():
    properties = {"revenue": 10, "password": "x", "customer_phone": "555", "is_mobile": True}

    assert drop_sensitive_properties(properties) == {"revenue": 10, "is_mobile": True}


def test_ip_hash_is_keyed_hmac_of_the_truncated_network():
    hasher = PiiHasher(KEY)

    hashed = hasher.hash_ip(ip_address("203.0.113.77"))

    assert hashed == hmac.new(KEY, b"ip:" + bytes([203, 0, 113, 0]), hashlib.sha256).hexdigest()
    assert hashed == hasher.hash_ip(ip_address("203.0.113.5"))
    assert hashed != hasher.hash_ip(ip_address("203.0.114.77"))
    assert hashed != hashlib.sha256(b"203.0.113.77").hexdigest()
    assert hashed != PiiHasher(b"z" * 32).hash_ip(ip_address("203.0.113.77"))


def test_ipv6_is_truncated_to_its_48_bit_prefix():
    hasher = PiiHasher(KEY)

    assert hasher.hash_ip(ip_address("2001:db8:1:2::1")) == hasher.hash_ip(
        ip_address("2001:db8:1::9")
    )


def test_email_hash_ignores_case_and_surrounding_space():
    hasher = PiiHasher(KEY)

    assert hasher.hash_email(" Jane.Doe@Example.com ") == hasher.hash_email("jane.doe@example.com")


def test_missing_or_short_key_refuses_to_start_with_a_fix():
    with pytest.raises(PiiKeyMissing, match="OWNLAY_PII_HASH_KEY is not set"):
        PiiHasher.from_env({})
    with pytest.raises(PiiKeyMissing, match="at least 32 bytes"):
        PiiHasher.from_env({"OWNLAY_PII_HASH_KEY": "short"})


def test_repr_never_shows_the_key():
    assert "kkkk" not in repr(PiiHasher(KEY))


def test_ipv4_mapped_ipv6_hashes_as_its_ipv4_network_not_as_one_shared_pseudonym():
    hasher = PiiHasher(KEY)

    mapped = hasher.hash_ip(ip_address("::ffff:203.0.113.77"))

    assert mapped == hasher.hash_ip(ip_address("203.0.113.77"))
    assert mapped == hasher.hash_ip(ip_address("::ffff:203.0.113.5"))
    assert mapped != hasher.hash_ip(ip_address("::ffff:198.51.100.77"))


def test_phone_hash_keeps_only_digits_and_differs_from_an_equal_email_hash():
    hasher = PiiHasher(KEY)

    assert hasher.hash_phone("+1 (415) 555-0123") == hasher.hash_phone("14155550123")
    assert hasher.hash_phone("14155550123") != hasher.hash_email("14155550123")
    assert hasher.hash_phone("14155550123") == (
        hmac.new(KEY, b"phone:14155550123", hashlib.sha256).hexdigest()
    )


def test_optional_hasher_is_none_without_a_key_and_keyed_with_one():
    assert optional_hasher({}) is None
    hasher = optional_hasher({"OWNLAY_PII_HASH_KEY": "k" * 32})

    assert hasher is not None
    assert hasher.hash_email("a@b.co") == PiiHasher(KEY).hash_email("a@b.co")


@pytest.mark.parametrize("key_bytes", [32, 64, 65, 200])
def test_pseudonyms_are_rfc2104_hmac_sha256_for_keys_shorter_and_longer_than_a_block(
    key_bytes: int,
):
    key = bytes(range(256))[:key_bytes]
    hasher = PiiHasher(key)

    assert hasher.hash_email("Jane@Example.com") == (
        hmac.new(key, b"email:jane@example.com", hashlib.sha256).hexdigest()
    )
    assert hasher.hash_ip(ip_address("203.0.113.77")) == (
        hmac.new(key, b"ip:" + bytes([203, 0, 113, 0]), hashlib.sha256).hexdigest()
    )


def test_a_remembered_ip_pseudonym_is_the_same_as_a_fresh_one():
    hasher = PiiHasher(b"k" * 32)
    mapped = ip_address("::ffff:198.51.100.7")

    first = [hasher.hash_ip(mapped), hasher.hash_ip(ip_address("198.51.100.9"))]
    again = [hasher.hash_ip(mapped), hasher.hash_ip(ip_address("198.51.100.9"))]

    assert first == again == [PiiHasher(b"k" * 32).hash_ip(ip_address("198.51.100.1"))] * 2
