"""Columns of uploaded files whose header says they hold personal data.

Store and CRM exports carry the buyer's name, postal address, phone and e-mail in columns of
their own: Shopify's `Billing Name`, `Billing Address1` … `Shipping Phone`, `Phone`, `Email`;
WooCommerce's `Billing First Name`; Magento's `Bill-to Name`; and generic `name`, `first name`,
`last name`, `address`, `phone`, `e-mail`. Free-text masking cannot find a name or a street in a
cell, so such a column is recognised by its header and its cells are never kept (uploads keep the
columns a load maps; see docs/privacy.md "File uploads").

A header is personal when, with an optional role prefix (`billing_`, `shipping_`, `bill_to_`,
`ship_to_`, `customer_`, `contact_`, `recipient_`, `buyer_`, `delivery_`), it names a person's
name, address line, phone or e-mail; with a role prefix, also the company, city, postal code and
province of that address (alone, `city` or `state` is a report dimension, not a person). Headers
that name credentials or contact data anywhere (`user_email`, `Billing Phone`, `api_token`, see
`urls.is_sensitive_name`) are personal too, and so are order notes (`Notes`, `Note Attributes`:
gift messages and delivery instructions typed by the buyer) and a shop `Employee`'s name. The
country stays: alone it identifies nobody.
"""

from __future__ import annotations

from ownlay_pipelines.privacy.urls import is_sensitive_name

ROLE_PREFIXES = (
    "billing_",
    "shipping_",
    "bill_to_",
    "ship_to_",
    "customer_",
    "contact_",
    "recipient_",
    "buyer_",
    "delivery_",
)
PERSON_FIELDS = frozenset(
    {
        "name", "first_name", "firstname", "last_name", "lastname", "full_name", "surname",
        "given_name", "family_name", "address", "address1", "address2", "address_1", "address_2",
        "address_line_1", "address_line_2", "street", "street_address", "phone",
        "phone_number", "telephone", "mobile", "email", "e_mail", "email_address", "ip",
        "ip_address", "browser_ip", "date_of_birth", "birthday", "customer", "notes", "note",
        "note_attributes", "employee",
    }
)  # fmt: skip
"""Normalised headers that name personal data alone or after a role prefix."""
ADDRESS_PARTS = frozenset(
    {
        "company", "city", "zip", "zip_code", "zipcode", "postcode", "post_code", "postal_code",
        "province", "province_name", "province_code", "state", "region",
    }
)  # fmt: skip
"""Parts of a postal address: personal after a role prefix (`Billing City`)."""


def is_personal_column(normalised_header: str) -> bool:
    """True when a column with this header (lower case, runs of other characters as `_`, as
    `uploads.mapping.normalise_header` gives it) holds personal data."""
    if normalised_header in PERSON_FIELDS or is_sensitive_name(normalised_header):
        return True
    for prefix in ROLE_PREFIXES:
        if normalised_header.startswith(prefix):
            rest = normalised_header[len(prefix) :]
            return rest in PERSON_FIELDS or rest in ADDRESS_PARTS
    return False
