"""One Mailchimp audience's members as a live account holds them: changing between requests.

What `GET /3.0/lists/{list_id}/members` does here (reference/connectors.md §1.9 and the
Marketing API's list-members parameters, as `mailchimp-marketing-python`'s `lists_api.py`
documents them): `status` filters by one of subscribed, unsubscribed, cleaned, pending,
transactional or archived, and without it archived contacts are left out (archiving "removes
contacts from your marketing audience"; Mailchimp's API reference does not say so outright, see
docs/connectors.md); `since_last_changed` / `before_last_changed` keep members changed strictly
after / before an ISO 8601 instant; `sort_field` is one of timestamp_opt, timestamp_signup,
last_changed and `sort_dir` ASC or DESC, ties in the order members joined, which is also the order
without `sort_field`; `fields` keeps only the named fields (`members.status`, `total_items`).
Anything else in those parameters is 400 problem+json, as Mailchimp answers.

`last_changed` has whole seconds, like Mailchimp's. `MemberChurn` changes the audience before
every member request but the first: members archived, unarchived, permanently deleted, added and
edited, each stamped with the simulated server time (one second further per request). That is
what shifts count/offset pages on a real account.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")
SORT_FIELDS = ("timestamp_opt", "timestamp_signup", "last_changed")
SORT_DIRECTIONS = ("ASC", "DESC")
CHURN_KINDS = ("archive", "unarchive", "delete", "add", "edit")


class InvalidMemberQuery(ValueError):
    """A parameter Mailchimp refuses with 400; the message names it."""


@dataclass
class Member:
    """One contact of the audience; `statuses` is every status it has had, oldest first."""

    email: str
    status: str
    last_changed: datetime
    timestamp_signup: datetime
    joined: int
    statuses: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.statuses:
            self.statuses.append(self.status)

    def become(self, status: str, at: datetime) -> None:
        self.status, self.last_changed = status, at
        self.statuses.append(status)


@dataclass(frozen=True)
class MemberChurn:
    """How much an audience changes between two member requests: `per_request` changes of the
    `kinds` drawn by `seed`, applied before every member request of the list but its first."""

    per_request: int = 1
    kinds: tuple[str, ...] = CHURN_KINDS
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(CHURN_KINDS))
        if unknown:
            raise ValueError(f"unknown churn kinds {unknown}; choose from {list(CHURN_KINDS)}")


class AudienceMembers:
    """The members of one audience now, and the requests they have answered."""

    def __init__(self, list_id: str, members: list[Member], now: datetime) -> None:
        self.list_id = list_id
        self.members = members
        self.deleted: list[Member] = []
        self.server_now = now.replace(microsecond=0)
        self.requests = 0
        self._joined = len(members)

    def answer(
        self, params: Mapping[str, str], churn: MemberChurn | None
    ) -> tuple[list[dict], int]:
        """The members a request selects, in its order, and how many there are in all."""
        _check(params)
        self.requests += 1
        self.server_now += timedelta(seconds=1)
        if churn is not None and self.requests > 1:
            self.churn(churn)
        chosen = [m for m in self.members if _selected(m, params)]
        sort_field = params.get("sort_field")
        if sort_field is not None:
            value = _sort_value(sort_field)
            direction = params.get("sort_dir", "DESC")
            chosen.sort(key=lambda m: (value(m), m.joined), reverse=direction == "DESC")
        return [self.wire(m) for m in chosen], len(chosen)

    def wire(self, member: Member) -> dict[str, Any]:
        """A member as the API sends it, contact data and all (a sync must ask for less)."""
        return {
            # Mailchimp's subscriber hash: the MD5 of the lower-cased address.
            "id": hashlib.md5(member.email.lower().encode()).hexdigest(),
            "email_address": member.email,
            "status": member.status,
            "list_id": self.list_id,
            "last_changed": member.last_changed.isoformat(),
            "timestamp_signup": member.timestamp_signup.isoformat(),
            "timestamp_opt": member.timestamp_signup.isoformat(),
            "ip_signup": f"198.51.100.{member.joined % 250}",
            "merge_fields": {"FNAME": f"Reader {member.joined}", "PHONE": "+49 30 1234567"},
        }

    def churn(self, churn: MemberChurn) -> None:
        """Apply one request's worth of changes, chosen by the churn's seed and this request."""
        rng = random.Random(f"{churn.seed}:{self.list_id}:{self.requests}")
        for _ in range(churn.per_request):
            kind = rng.choice(churn.kinds)
            self.change(kind, rng)

    def change(self, kind: str, rng: random.Random) -> None:
        """One change of `kind` to a member drawn by `rng` (archived ones for `unarchive`)."""
        if kind == "add":
            self.add(1)
            return
        wanted: Callable[[Member], bool] = (
            (lambda m: m.status == "archived")
            if kind == "unarchive"
            else (lambda m: m.status != "archived")
        )
        candidates = [m for m in self.members if wanted(m)]
        if not candidates:
            return
        member = rng.choice(candidates)
        if kind == "delete":
            self.members.remove(member)
            self.deleted.append(member)
        elif kind == "archive":
            member.become("archived", self.server_now)
        elif kind == "unarchive":
            member.become("subscribed", self.server_now)
        else:
            member.become(rng.choice(["unsubscribed", "subscribed", "cleaned"]), self.server_now)

    def add(self, count: int) -> list[Member]:
        """`count` new subscribers, all stamped this second (an import of a file does that)."""
        added = []
        for _ in range(count):
            self._joined += 1
            email = f"new{self._joined}.{self.list_id[:4]}@inbox.example"
            added.append(
                Member(email, "subscribed", self.server_now, self.server_now, self._joined)
            )
        self.members.extend(added)
        return added


def _check(params: Mapping[str, str]) -> None:
    """Refuse what Mailchimp refuses: unknown statuses, sort fields and directions, bad times."""
    if params.get("status", STATUSES[0]) not in STATUSES:
        raise InvalidMemberQuery(f"status must be one of {', '.join(STATUSES)}")
    if params.get("sort_field", SORT_FIELDS[0]) not in SORT_FIELDS:
        raise InvalidMemberQuery(f"sort_field must be one of {', '.join(SORT_FIELDS)}")
    if params.get("sort_dir", SORT_DIRECTIONS[0]) not in SORT_DIRECTIONS:
        raise InvalidMemberQuery("sort_dir must be ASC or DESC")
    _instant(params, "since_last_changed")
    _instant(params, "before_last_changed")


def _selected(member: Member, params: Mapping[str, str]) -> bool:
    status = params.get("status")
    if (member.status == "archived") != (status == "archived"):
        return False
    if status is not None and member.status != status:
        return False
    since, before = _instant(params, "since_last_changed"), _instant(params, "before_last_changed")
    return (since is None or member.last_changed > since) and (
        before is None or member.last_changed < before
    )


def _instant(params: Mapping[str, str], name: str) -> datetime | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidMemberQuery(f"{name} must be an ISO 8601 time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _sort_value(sort_field: str) -> Callable[[Member], datetime]:
    if sort_field == "last_changed":
        return lambda m: m.last_changed
    return lambda m: m.timestamp_signup


def keep_fields(body: dict[str, Any], fields: str | None, key: str) -> dict[str, Any]:
    """`body` with only the `fields` Mailchimp was asked for (`total_items`, `members.status`)."""
    if not fields:
        return body
    names = [name.strip() for name in fields.split(",") if name.strip()]
    top = {name for name in names if "." not in name}
    inner = {name.split(".", 1)[1] for name in names if name.startswith(f"{key}.")}
    kept = {name: value for name, value in body.items() if name in top}
    if inner:
        kept[key] = [{k: v for k, v in item.items() if k in inner} for item in body[key]]
    return kept
