"""Mailchimp Marketing API 3.0 simulator on `<dc>.api.mailchimp.com` (reference/connectors.md §1.9).

What it reproduces: Basic auth with the API key as password, on the host of the key's data
centre (another data centre, or a wrong key, is 401 problem+json); `GET /3.0/campaigns`,
`/3.0/lists`, `/3.0/lists/{list_id}/members` and `/3.0/reports` with `count` (default 10, at most
1000; more is 400) / `offset` paging, `total_items` and `fields`; `since_send_time` /
`before_send_time` on reports; `type` on campaigns and reports; report counters that keep
growing for a week after the send; 429 "too many connections" (the throttle fault) and 500 (the
server-error fault) as problem+json. Members (`sandbox/mailchimp_members.py`) take `status`,
`since_last_changed` / `before_last_changed`, `sort_field` / `sort_dir`, leave archived contacts
out unless asked for, and with a `MemberChurn` change between two requests as a live audience
does.

The world: each registry `mailchimp` connection has two audiences of subscribers and about two
campaigns a week (mostly regular, some plain-text or A/B `variate`) over the last 90 days (sent
on weekday mornings, workspace time), plus a draft. Everything derives from
`hash(seed, account, …)`.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cached_property
from typing import Any

import httpx

from ownlay_pipelines.sandbox.credentials import sandbox_credential
from ownlay_pipelines.sandbox.faults import Fault, FaultDice, FaultPlan
from ownlay_pipelines.sandbox.mailchimp_members import (
    AudienceMembers,
    InvalidMemberQuery,
    Member,
    MemberChurn,
    keep_fields,
)
from ownlay_pipelines.sandbox.seeding import digits, rng_for
from ownlay_pipelines.sandbox.world import SandboxWorld

HOST = "api.mailchimp.com"
PATH = re.compile(
    r"^/3\.0/(?:(?P<resource>campaigns|lists|reports)|lists/(?P<list_id>\w+)/members)$"
)
DEFAULT_COUNT = 10
MAX_COUNT = 1000
HISTORY_DAYS = 90
MEMBERS_PER_LIST = 180
ERROR_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"


class MailchimpError(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


@dataclass(frozen=True)
class SentCampaign:
    id: str
    title: str
    list_id: str
    send_time: datetime
    emails_sent: int
    open_share: float
    click_share: float
    bounces: int
    unsubscribed: int
    type: str = "regular"


class MailchimpAccountWorld:
    """One Mailchimp account's audiences, members and campaigns, as of `now`."""

    def __init__(self, seed: int, account_id: str, zone: Any, now: datetime) -> None:
        self.seed, self.account_id, self.zone, self.now = seed, account_id, zone, now

    @cached_property
    def list_ids(self) -> list[str]:
        rng = rng_for(self.seed, "mailchimp", self.account_id, "lists")
        return [digits(rng, 10) for _ in range(2)]

    def members(self, list_id: str) -> list[Member]:
        """The audience's members as generated, before any churn."""
        found = []
        for number in range(MEMBERS_PER_LIST):
            rng = rng_for(self.seed, "mailchimp-member", self.account_id, list_id, number)
            status = (
                "subscribed"
                if rng.random() < 0.85
                else rng.choice(["unsubscribed", "cleaned", "pending"])
            )
            changed = (self.now - timedelta(days=rng.randrange(1, 400))).replace(microsecond=0)
            email = f"reader{number}.{list_id[:4]}@inbox.example"
            found.append(Member(email, status, changed, changed, number))
        return found

    @cached_property
    def campaigns(self) -> list[SentCampaign]:
        found = []
        day = (self.now - timedelta(days=HISTORY_DAYS)).astimezone(self.zone).date()
        today = self.now.astimezone(self.zone).date()
        number = 0
        while day <= today:
            rng = rng_for(self.seed, "mailchimp-campaign", self.account_id, day.isoformat())
            if day.weekday() in (1, 3) and rng.random() < 0.9:
                send = datetime.combine(day, time(9, rng.randrange(60)), self.zone)
                if send <= self.now:
                    number += 1
                    sent = rng.randint(120, 160)
                    found.append(
                        SentCampaign(
                            id=digits(rng, 10),
                            title=f"Newsletter #{number}",
                            list_id=self.list_ids[number % 2],
                            send_time=send.astimezone(UTC),
                            emails_sent=sent,
                            open_share=rng.uniform(0.25, 0.5),
                            click_share=rng.uniform(0.02, 0.08),
                            bounces=rng.randrange(0, 4),
                            unsubscribed=rng.randrange(0, 3),
                            type=self._campaign_type(day.isoformat()),
                        )
                    )
            day += timedelta(days=1)
        return found

    def _campaign_type(self, day: str) -> str:
        """About one campaign in five is plain-text or an A/B test (its own draw, so adding
        types left every other number of the world as it was)."""
        roll = rng_for(self.seed, "mailchimp-campaign-type", self.account_id, day).random()
        return "plaintext" if roll < 0.1 else "variate" if roll < 0.2 else "regular"

    def report(self, campaign: SentCampaign) -> dict[str, Any]:
        """The report as of now: opens and clicks accrue over the week after the send."""
        age_days = (self.now - campaign.send_time).total_seconds() / 86_400
        maturity = min(1.0, max(age_days, 0) / 7)
        unique_opens = int(campaign.emails_sent * campaign.open_share * maturity)
        unique_clicks = int(campaign.emails_sent * campaign.click_share * maturity)
        return {
            "id": campaign.id,
            "campaign_title": campaign.title,
            "type": campaign.type,
            "list_id": campaign.list_id,
            "emails_sent": campaign.emails_sent,
            "abuse_reports": 0,
            "unsubscribed": campaign.unsubscribed,
            "send_time": campaign.send_time.isoformat(),
            "bounces": {"hard_bounces": campaign.bounces, "soft_bounces": 1, "syntax_errors": 0},
            "opens": {
                "opens_total": int(unique_opens * 1.4),
                "unique_opens": unique_opens,
                "open_rate": round(unique_opens / campaign.emails_sent, 6),
            },
            "clicks": {
                "clicks_total": int(unique_clicks * 1.3),
                "unique_clicks": unique_clicks,
                "unique_subscriber_clicks": unique_clicks,
                "click_rate": round(unique_clicks / campaign.emails_sent, 6),
            },
        }

    def campaign_objects(self) -> list[dict[str, Any]]:
        sent = [
            {
                "id": c.id,
                "type": c.type,
                "status": "sent",
                "create_time": (c.send_time - timedelta(days=2)).isoformat(),
                "send_time": c.send_time.isoformat(),
                "emails_sent": c.emails_sent,
                "recipients": {"list_id": c.list_id},
                "settings": {"title": c.title, "subject_line": f"{c.title}: what's new"},
            }
            for c in self.campaigns
        ]
        draft = {
            "id": f"draft{self.account_id[:5]}",
            "type": "regular",
            "status": "save",
            "create_time": self.now.replace(microsecond=0).isoformat(),
            "send_time": "",
            "emails_sent": 0,
            "recipients": {"list_id": self.list_ids[0]},
            "settings": {"title": "Next newsletter (draft)", "subject_line": ""},
        }
        return [*sent, draft]

    def list_objects(self) -> list[dict[str, Any]]:
        found = []
        for index, list_id in enumerate(self.list_ids):
            members = self.members(list_id)
            found.append(
                {
                    "id": list_id,
                    "name": ["Customers", "Newsletter"][index],
                    "date_created": (self.now - timedelta(days=400))
                    .replace(microsecond=0)
                    .isoformat(),
                    "stats": {
                        "member_count": sum(m.status == "subscribed" for m in members),
                        "unsubscribe_count": sum(m.status == "unsubscribed" for m in members),
                    },
                }
            )
        return found


class MailchimpSimulator:
    """Every Mailchimp account of the registry's `mailchimp` connections."""

    platform = "mailchimp"
    host = HOST
    """Serves each data centre's subdomain (`us21.api.mailchimp.com`)."""

    def __init__(
        self,
        world: SandboxWorld,
        faults: FaultPlan | None = None,
        churn: MemberChurn | None = None,
    ) -> None:
        self.world = world
        self.dice = FaultDice(faults or FaultPlan(), self.platform)
        self.churn = churn
        """Changes to every audience between member requests; None keeps audiences still."""
        self._audiences: dict[tuple[str, str], AudienceMembers] = {}
        self._accounts = {
            sandbox_credential("api_key", connection.account_id): MailchimpAccountWorld(
                world.seed, connection.account_id, workspace.zone, world.now
            )
            for workspace in world.registry.workspaces
            for connection in workspace.connections
            if connection.platform == self.platform
        }

    def use_faults(self, plan: FaultPlan) -> None:
        self.dice = FaultDice(plan, self.platform)

    _served = 0

    def account(self, account_id: str) -> MailchimpAccountWorld:
        return next(a for a in self._accounts.values() if a.account_id == account_id)

    def audience(self, account_id: str, list_id: str) -> AudienceMembers:
        """The members of one audience as they are now (churned by earlier requests)."""
        key = (account_id, list_id)
        if key not in self._audiences:
            account = self.account(account_id)
            self._audiences[key] = AudienceMembers(list_id, account.members(list_id), account.now)
        return self._audiences[key]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self._served += 1
        try:
            account = self._authenticate(request)
            match = PATH.fullmatch(request.url.path)
            if match is None or request.method != "GET":
                raise MailchimpError(
                    404, "Resource Not Found", "The requested resource could not be found."
                )
            if self.dice.roll(Fault.THROTTLE):
                raise MailchimpError(
                    429,
                    "Too Many Requests",
                    "You have exceeded the limit of 10 simultaneous connections.",
                )
            if self.dice.roll(Fault.SERVER_ERROR):
                raise MailchimpError(500, "Internal Server Error", "An unexpected error occurred.")
            return httpx.Response(200, json=self._page(account, match, request.url.params))
        except MailchimpError as error:
            body = {
                "type": ERROR_DOC,
                "title": error.title,
                "status": error.status,
                "detail": error.detail,
                "instance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{request.url}#{self._served}")),
            }
            return httpx.Response(
                error.status, json=body, headers={"Content-Type": "application/problem+json"}
            )

    def _authenticate(self, request: httpx.Request) -> MailchimpAccountWorld:
        header = request.headers.get("authorization", "")
        try:
            _, _, key = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
        except ValueError:
            key = ""
        account = self._accounts.get(key)
        data_centre = request.url.host.removesuffix(f".{HOST}")
        if account is None or not key.endswith(f"-{data_centre}") or self.dice.token_expired():
            raise MailchimpError(
                401,
                "API Key Invalid",
                f"Your API key may be invalid, or you've attempted to access the wrong "
                f"datacenter ({data_centre}).",
            )
        return account

    def _page(
        self, account: MailchimpAccountWorld, match: re.Match[str], params: httpx.QueryParams
    ) -> dict:
        try:
            count = int(params.get("count", DEFAULT_COUNT))
            offset = int(params.get("offset", 0))
        except ValueError as error:
            raise MailchimpError(
                400, "Invalid Resource", "count and offset must be integers"
            ) from error
        if not 1 <= count <= MAX_COUNT or offset < 0:
            raise MailchimpError(
                400, "Invalid Resource", f"count must be between 1 and {MAX_COUNT}; offset ≥ 0"
            )
        if match["list_id"] is not None:
            if match["list_id"] not in account.list_ids:
                raise MailchimpError(
                    404, "Resource Not Found", "The requested resource could not be found."
                )
            audience = self.audience(account.account_id, match["list_id"])
            try:
                members, total = audience.answer(params, self.churn)
            except InvalidMemberQuery as error:
                raise MailchimpError(400, "Invalid Resource", str(error)) from None
            body = {"members": members[offset : offset + count], "total_items": total}
            return keep_fields({**body, "_links": []}, params.get("fields"), "members")
        elif match["resource"] == "lists":
            key, items = "lists", account.list_objects()
        elif match["resource"] == "campaigns":
            key, items = "campaigns", account.campaign_objects()
        else:
            key, items = "reports", [account.report(c) for c in account.campaigns]
            for name, keep in (
                ("since_send_time", lambda s, b: s >= b),
                ("before_send_time", lambda s, b: s < b),
            ):
                if name in params:
                    bound = datetime.fromisoformat(params[name])
                    items = [
                        r for r in items if keep(datetime.fromisoformat(r["send_time"]), bound)
                    ]
        if key in ("campaigns", "reports") and "type" in params:
            items = [i for i in items if i["type"] == params["type"]]
        body = {key: items[offset : offset + count], "total_items": len(items), "_links": []}
        return keep_fields(body, params.get("fields"), key)
