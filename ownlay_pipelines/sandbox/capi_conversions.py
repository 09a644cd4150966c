"""The sandbox's converting visitors: who they really are, and what the forwarder captures.

Each visitor has a canonical e-mail and E.164 phone (what the platforms know, `SandboxPerson`),
and their conversions carry the same data *as typed*: mixed case, spaces around the address,
the phone in the workspace's national format. Forwarding them with the right normalisation gives
a 100 % match rate in `CapiSandbox`; any slip in normalisation lowers it.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers

from ownlay_pipelines.capi.conversions import Conversion
from ownlay_pipelines.sandbox.capi import SandboxPerson

_FIRST = ("Anna", "Jean-Luc", "Mary Ann", "Kenji", "Zoë", "Liam", "Olga", "Omar")
_LAST = ("Müller", "O'Neil", "Dupont", "Tanaka", "Smith", "García", "Novak", "Haddad")
_DOMAINS = ("gmail.com", "example.com", "mail.example.org", "googlemail.com")
_EVENT_MIX = (("purchase", 5), ("add_to_cart", 3), ("lead", 1), ("sign_up", 1), ("search", 1))
_USER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"


@dataclass(frozen=True)
class SandboxVisitor:
    """One converting visitor: the person and how they typed their details."""

    person: SandboxPerson
    typed_email: str
    typed_phone: str
    first_name: str
    last_name: str


def sandbox_visitors(count: int, region: str, *, seed: int = 7) -> list[SandboxVisitor]:
    """`count` visitors of `region` (ISO 3166-1) with valid phone numbers of that region."""
    rng = random.Random(f"{seed}-{region}")
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        raise ValueError(f"no example mobile number for region {region}")
    base = int(str(example.national_number))
    visitors = []
    for index in range(count):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        local = f"{first.split()[0].lower().replace('ë', 'e')}.{index}{rng.randint(10, 99)}"
        domain = rng.choice(_DOMAINS)
        number = phonenumbers.PhoneNumber(
            country_code=example.country_code, national_number=base + index % 900
        )
        if not phonenumbers.is_valid_number(number):
            number = example
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        typed_email = f"  {local.capitalize()}@{domain.upper() if index % 3 == 0 else domain} "
        visitors.append(
            SandboxVisitor(
                person=SandboxPerson(email=f"{local}@{domain}", phone_e164=e164),
                typed_email=typed_email,
                typed_phone=national,
                first_name=first,
                last_name=last,
            )
        )
    return visitors


def sandbox_conversions(
    workspace_id: str,
    visitors: list[SandboxVisitor],
    count: int,
    *,
    start: datetime,
    currency: str,
    consent_share: float = 0.9,
    seed: int = 11,
) -> list[Conversion]:
    """`count` conversions by `visitors` from `start` on, a minute apart; about `consent_share`
    of them with marketing consent. Each has a random event id (the browser pixel's) and a
    click id from one of the four platforms."""
    rng = random.Random(f"{seed}-{workspace_id}")
    kinds = [kind for kind, weight in _EVENT_MIX for _ in range(weight)]
    click_ids = ("fbclid", "gclid", "ttclid", "sccid")
    conversions = []
    for index in range(count):
        visitor = visitors[index % len(visitors)]
        kind = rng.choice(kinds)
        click = click_ids[index % 4]
        click_value = uuid.UUID(int=rng.getrandbits(128)).hex
        conversions.append(
            Conversion(
                workspace_id=workspace_id,
                event_id=str(uuid.UUID(int=rng.getrandbits(128))),
                event_type=kind,
                event_time=start + timedelta(minutes=index),
                marketing_consent=rng.random() < consent_share,
                value=round(rng.uniform(10, 250), 2) if kind == "purchase" else None,
                currency=currency if kind == "purchase" else None,
                order_id=f"{workspace_id}-{index}" if kind == "purchase" else None,
                content_ids=(f"sku-{rng.randint(1, 40)}",) if kind != "search" else (),
                page_url=f"https://shop.example/checkout?{click}={click_value}",
                email=visitor.typed_email,
                phone=visitor.typed_phone,
                first_name=visitor.first_name,
                last_name=visitor.last_name,
                ip=f"203.0.113.{index % 250 + 1}",
                user_agent=_USER_AGENT,
                click_ids={click: click_value},
            )
        )
    return conversions
