"""Every member of one Mailchimp audience, read so that none is skipped while the audience changes.

Why not plain count/offset: `GET /lists/{id}/members?count=…&offset=…` answers each page from
the audience as it is at that moment. A member archived, deleted or edited between two pages
leaves its place, every later member moves one place forward, and the next page starts one
member too far: that member is missing until the next day's sync (a member added or edited can
equally be read twice). Mailchimp has no cursor for members, and its own reference warns that
"iterating over large collections with [offset] can be slow".

What we do instead (parameters as `mailchimp-marketing-python`'s `lists_api.py` documents them):

- **Keyset on `last_changed`.** Pages are asked for with `sort_field=last_changed&sort_dir=ASC`
  and `since_last_changed=<the newest last_changed read so far, less one second>`, always from
  offset 0. A member that changes moves to the end of that order (its `last_changed` becomes
  now), so a change can only make us read a member again, never step over one. The one-second
  overlap covers both readings of "since" (after or at) on Mailchimp's whole-second times;
  members read twice are merged, the newest `last_changed` winning.
- **A second fuller than a page** (an import stamps many members with one second) cannot be
  stepped past with `since_last_changed`. That second alone is read with count/offset between
  `since_last_changed` and `before_last_changed`: a window in the past only loses members
  (they change into the present), never gains any, so when `total_items` drops between two pages
  we step the offset back by the drop and read again what slid past it.
- **Archived members** are asked for with `status=archived`: archiving "removes contacts from
  your marketing audience" and the unfiltered listing is taken not to include them (Mailchimp's
  reference does not say either way; if it does include them, they are merged like any member
  read twice). Then the unfiltered pass resumes from its cursor, so a member unarchived while the
  archived ones were read is not lost. Members deleted for good are in neither listing and are
  left out, which is right for a snapshot.
- **Contact data never leaves this module.** Only `email_address`, `status`, `last_changed` and
  `list_id` are asked for (`fields`), so merge fields (names, phones, addresses) and signup IPs
  are never received; the address is replaced by its keyed HMAC (`email_hash`) before anything
  else sees the record, so a row the normaliser refuses reaches the quarantine without it.
  Mailchimp's own member id, the MD5 of the lower-cased address, is not asked for.

One pass costs the same pages as count/offset (plus one request per status and the overlap), and
every full snapshot replaces the last: there is no cross-sync cursor to lose, and members
deleted for good drop out the next day.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ownlay_pipelines.connectors.streams import Record
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.errors import FatalApiError
from ownlay_pipelines.privacy.keyed_hash import PiiHasher

MEMBER_FIELDS = ("email_address", "status", "last_changed", "list_id")
SECOND = timedelta(seconds=1)
MAX_PAGES_PER_PASS = 100_000
"""Far beyond any audience (a hundred million members at 1,000 a page); a loop guard only."""


def audience_members(
    client: ApiClient, list_id: str, hasher: PiiHasher, page_size: int
) -> list[Record]:
    """The audience's members, archived ones included, each once in its newest state read:
    `{list_id, email_hash, status, last_changed}` (`email_hash` None for a member whose address
    is not an e-mail address, which the normaliser refuses)."""
    path = f"lists/{list_id}/members"
    listed = _KeysetPass(client, path, page_size, status=None)
    archived = _KeysetPass(client, path, page_size, status="archived")
    newest: dict[str, tuple[datetime | None, Record]] = {}
    unkeyed: list[Record] = []
    for pass_ in (listed, archived, listed):
        for raw in pass_.run():
            member = protect_member(raw, hasher)
            key = member["email_hash"]
            if key is None:
                unkeyed.append(member)
                continue
            changed = _changed(member)
            previous = newest.get(key)
            if previous is None or not _older(changed, previous[0]):
                newest[key] = (changed, member)
    return [member for _, member in newest.values()] + unkeyed


def protect_member(raw: Mapping[str, Any], hasher: PiiHasher) -> dict[str, Any]:
    """The member with its address replaced by the keyed hash (None when it is no address)."""
    email = raw.get("email_address")
    valid = isinstance(email, str) and "@" in email
    return {
        "list_id": raw.get("list_id"),
        "email_hash": hasher.hash_email(email) if valid else None,
        "status": raw.get("status"),
        "last_changed": raw.get("last_changed"),
    }


@dataclass
class _KeysetPass:
    """One listing (all statuses but archived, or one status) read in `last_changed` order."""

    client: ApiClient
    path: str
    page_size: int
    status: str | None
    cursor: datetime | None = None
    """The newest `last_changed` up to which every member of the listing has been read."""

    def run(self) -> Iterator[Record]:
        """Every member changed at or after the cursor, until a page comes back short."""
        for _ in range(MAX_PAGES_PER_PASS):
            since = None if self.cursor is None else self.cursor - SECOND
            members, _ = self._page(since=since, before=None, offset=None)
            yield from members
            if len(members) < self.page_size:
                return
            newest = max(filter(None, map(_changed, members)), default=None)
            if newest is None:
                raise FatalApiError(
                    f"{self.path}: a page of {len(members)} members has no readable "
                    "last_changed, so the listing cannot be paged by it"
                )
            if self.cursor is not None and newest <= self.cursor:
                # A page's worth of members share this second: read the second on its own.
                yield from self._one_second(self.cursor)
                self.cursor += SECOND
            else:
                self.cursor = newest
        raise FatalApiError(f"{self.path}: still more members after {MAX_PAGES_PER_PASS} pages")

    def _one_second(self, second: datetime) -> Iterator[Record]:
        """Every member of `second`, by count/offset inside a window that can only shrink; a
        drop of `total_items` steps the offset back by as much, so nothing slides past it."""
        offset, total = 0, None
        for _ in range(MAX_PAGES_PER_PASS):
            members, now_total = self._page(
                since=second - SECOND, before=second + SECOND, offset=offset
            )
            yield from members
            dropped = 0 if total is None else max(0, total - now_total)
            total = now_total
            if dropped:
                offset = max(0, offset - dropped)
                continue
            offset += len(members)
            if not members or offset >= total:
                return
        raise FatalApiError(f"{self.path}: second {second.isoformat()} never finished paging")

    def _page(
        self, *, since: datetime | None, before: datetime | None, offset: int | None
    ) -> tuple[list[Record], int]:
        params: dict[str, Any] = {
            "count": self.page_size,
            "sort_field": "last_changed",
            "sort_dir": "ASC",
            "fields": ",".join([*(f"members.{name}" for name in MEMBER_FIELDS), "total_items"]),
        }
        for name, value in (
            ("status", self.status),
            ("since_last_changed", since and since.isoformat()),
            ("before_last_changed", before and before.isoformat()),
            ("offset", offset),
        ):
            if value is not None:
                params[name] = value
        body = self.client.request_json("GET", self.path, params=params)
        self.client.stats.pages += 1
        members = body.get("members") if isinstance(body, Mapping) else None
        if not isinstance(members, list):
            raise FatalApiError(f"{self.path}: the answer has no members list")
        total = body.get("total_items")
        return members, int(total) if isinstance(total, int) else len(members)


def _changed(record: Mapping[str, Any]) -> datetime | None:
    """`last_changed` as a UTC instant, or None when missing or unreadable."""
    value = record.get("last_changed")
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC) if value else None
    except ValueError:
        return None


def _older(changed: datetime | None, kept: datetime | None) -> bool:
    """True when a member read again is older than the copy kept (unreadable times never are)."""
    return changed is not None and kept is not None and changed < kept
