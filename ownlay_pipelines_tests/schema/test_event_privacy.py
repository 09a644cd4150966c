import hashlib
import hmac
from ipaddress import ip_address

import pytest

from ownlay_pipelines.events.privacy import (
    PiiHasher,
    PiiKeyMissing,
    drop_sensitive_properties,
    strip_sensitive_url,
)

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
