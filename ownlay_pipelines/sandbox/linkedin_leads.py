"""LinkedIn Lead Sync in the sandbox: lead gen forms, the leads they collect, their wire format.

Wire format (Marketing API Lead Sync, learn.microsoft.com/linkedin/marketing/lead-sync/leadsync):
`GET /rest/leadForms?q=owner&owner=(sponsoredAccount:<encoded urn>)` and
`GET /rest/leadFormResponses?q=owner&owner=(…)&leadType=(leadType:SPONSORED)
&submittedAtTimeRange=(start:<ms>,end:<ms>)` page with Rest.li `start`/`count` and answer
`{"elements": […], "paging": {"start", "count", "total", "links"}}`; one lead is
`GET /rest/leadFormResponses/<id>`. A lead names its owner, `versionedLeadGenFormUrn`, campaign
(`leadMetadata.sponsoredLeadMetadata.campaign`), creative, `submittedAt` (epoch ms), `testLead`
and `formResponse.answers` (`questionId` + `textQuestionAnswer.answer` or
`multipleChoiceAnswer.options`).

The world: each LinkedIn campaign with the `LEAD_GENERATION` objective has one published form;
on every UTC day it delivers it collects 0-3 leads, submitted at a fixed second of that day (a
lead exists once the world's `now` has passed it). Some leads type contact data into the free
text question, as real people do, so the connector's masking is exercised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import unquote

from ownlay_pipelines.sandbox.entities import CampaignDayKey, SandboxAccount
from ownlay_pipelines.sandbox.faults import FaultPlan
from ownlay_pipelines.sandbox.seeding import rng_for, stable_seed
from ownlay_pipelines.sandbox.world import SandboxWorld

PLATFORM = "linkedin_ads"
LEAD_OBJECTIVE = "LEAD_GENERATION"
MAX_LEADS_PER_DAY = 3
MAX_PAGE_COUNT = 100
QUESTIONS: tuple[tuple[int, str, str | None, str], ...] = (
    (1, "firstName", "FIRST_NAME", "First name"),
    (2, "lastName", "LAST_NAME", "Last name"),
    (3, "email", "EMAIL", "Email address"),
    (4, "phoneNumber", "PHONE_NUMBER", "Phone number"),
    (5, "company", "COMPANY_NAME", "Company name"),
    (6, "jobTitle", "JOB_TITLE", "Job title"),
    (7, "comment", None, "What should we know before we call?"),
    (8, "teamSize", None, "How large is your team?"),
)
"""(questionId, name, predefinedField or None for a custom question, label)."""
TEAM_SIZES = ("1-10", "11-50", "51-200", "201+")
"""Options of the multiple-choice question 8, numbered from 1 on the wire."""
FIRST_NAMES = ("Ana", "Ben", "Chloe", "Dario", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jon")
LAST_NAMES = ("Adler", "Berg", "Costa", "Dumont", "Eriksen", "Fischer", "Garcia", "Hoshino")
JOB_TITLES = ("Marketing Manager", "Head of Growth", "Founder", "Procurement Lead", "CTO")
COMMENTS = (
    "Looking for a demo for our team",
    "Budget approved for next quarter",
    "Please call me on {phone} after 5pm",
    "Reach me at {email} instead of the work address",
    "",
)
"""Free-text answers; two of them carry contact data the connector must mask."""


class LeadSyncError(Exception):
    """A refused Lead Sync request: HTTP status, Rest.li code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class SandboxLeadForm:
    """A published lead gen form of one campaign."""

    account_id: str
    form_id: str
    campaign_id: str
    name: str
    created: datetime


@dataclass(frozen=True)
class SandboxLead:
    """One submitted lead as the member typed it (the ground truth the lake must reflect)."""

    lead_id: str
    account_id: str
    form_id: str
    campaign_id: str
    creative_id: str | None
    submitted_at: datetime
    first_name: str
    last_name: str
    email: str
    phone: str
    company: str
    job_title: str
    comment: str
    team_size: str
    test_lead: bool

    @property
    def fault_key(self) -> CampaignDayKey:
        """The identity the fault plan decides malformation on (one lead, not its whole day)."""
        return CampaignDayKey(self.account_id, self.lead_id, self.submitted_at.date())


def lead_forms(world: SandboxWorld, account_id: str) -> list[SandboxLeadForm]:
    """The account's forms: one per lead-generation campaign, oldest campaign first."""
    catalog = world.catalog(PLATFORM, account_id)
    return [
        SandboxLeadForm(
            account_id=account_id,
            form_id=str(4_000_000 + stable_seed(world.seed, "form", c.campaign_id) % 1_000_000),
            campaign_id=c.campaign_id,
            name=f"{c.name} - lead form",
            created=datetime.combine(c.start_date, time(9), UTC),
        )
        for c in sorted(catalog.campaigns, key=lambda c: (c.start_date, c.campaign_id))
        if c.objective == LEAD_OBJECTIVE
    ]


def leads_between(
    world: SandboxWorld, account_id: str, start: datetime, end: datetime
) -> list[SandboxLead]:
    """Leads submitted in [start, end) and before the world's `now`, oldest first."""
    end = min(end, world.now)
    if end <= start:
        return []
    catalog = world.catalog(PLATFORM, account_id)
    campaigns = {c.campaign_id: c for c in catalog.campaigns}
    creatives = {}
    for ad in catalog.ads:
        creatives.setdefault(ad.campaign_id, ad.ad_id)
    forms = lead_forms(world, account_id)
    leads: list[SandboxLead] = []
    day = start.date()
    while datetime.combine(day, time(0), UTC) < end:
        for form in forms:
            campaign = campaigns[form.campaign_id]
            if not campaign.delivers_on(day):
                continue
            for lead in _leads_of_day(world.seed, form, creatives.get(form.campaign_id), day):
                if start <= lead.submitted_at < end:
                    leads.append(lead)
        day += timedelta(days=1)
    return sorted(leads, key=lambda lead: (lead.submitted_at, lead.lead_id))


def ground_truth_leads(world: SandboxWorld, account_id: str, day: date) -> list[SandboxLead]:
    """Every lead of the account submitted on UTC `day` (up to the world's `now`)."""
    start = datetime.combine(day, time(0), UTC)
    return leads_between(world, account_id, start, start + timedelta(days=1))


def find_lead(world: SandboxWorld, lead_id: str) -> SandboxLead | None:
    """The lead with `lead_id` in any LinkedIn account (its id encodes form and day)."""
    match = re.fullmatch(r"([0-9a-f]{8})-(\d{8})-(\d{7})-(\d)", lead_id)
    if not match:
        return None
    day = datetime.strptime(match.group(2), "%Y%m%d").date()
    for account in world.accounts(PLATFORM):
        for lead in ground_truth_leads(world, account.account_id, day):
            if lead.lead_id == lead_id:
                return lead
    return None


def _leads_of_day(
    seed: int, form: SandboxLeadForm, creative_id: str | None, day: date
) -> list[SandboxLead]:
    rng = rng_for(seed, "leads", form.account_id, form.form_id, day.isoformat())
    leads = []
    for index in range(rng.randint(0, MAX_LEADS_PER_DAY)):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = rng.choice(("Nordwind", "Lumen Labs", "Corvid & Co", "Helio", "Tessera"))
        email = f"{first}.{last}{rng.randint(1, 99)}@{company.split()[0].lower()}.example"
        phone = f"+1 415 555 {rng.randint(100, 9999):04d}"
        comment = rng.choice(COMMENTS).format(phone=phone, email=email.upper())
        second = rng.randrange(86_400)
        leads.append(
            SandboxLead(
                lead_id=f"{stable_seed(seed, form.form_id) % 16**8:08x}-{day:%Y%m%d}-"
                f"{form.form_id}-{index}",
                account_id=form.account_id,
                form_id=form.form_id,
                campaign_id=form.campaign_id,
                creative_id=creative_id,
                submitted_at=datetime.combine(day, time(0), UTC) + timedelta(seconds=second),
                first_name=first,
                last_name=last,
                email=email,
                phone=phone,
                company=company,
                job_title=rng.choice(JOB_TITLES),
                comment=comment,
                team_size=rng.choice(TEAM_SIZES),
                test_lead=rng.random() < 0.05,
            )
        )
    return leads


def epoch_ms(when: datetime) -> int:
    """Milliseconds since the epoch, LinkedIn's timestamp unit."""
    return int(when.timestamp() * 1000)


def form_element(form: SandboxLeadForm) -> dict[str, Any]:
    """A `leadForms` element."""
    questions = []
    for question_id, name, predefined, label in QUESTIONS:
        question: dict[str, Any] = {
            "questionId": question_id,
            "name": name,
            "question": {"localized": {"en_US": label}},
        }
        if predefined:
            question["predefinedField"] = predefined
            question["questionDetails"] = {"textQuestionDetails": {"maxResponseLength": 300}}
        elif name == "teamSize":
            question["questionDetails"] = {
                "multipleChoiceQuestionDetails": {
                    "options": [
                        {"id": n, "text": {"localized": {"en_US": text}}}
                        for n, text in enumerate(TEAM_SIZES, start=1)
                    ]
                }
            }
        else:
            question["questionDetails"] = {"textQuestionDetails": {"maxResponseLength": 1000}}
        questions.append(question)
    return {
        "id": int(form.form_id),
        "owner": {"sponsoredAccount": f"urn:li:sponsoredAccount:{form.account_id}"},
        "name": form.name,
        "state": "PUBLISHED",
        "versionId": 1,
        "created": epoch_ms(form.created),
        "lastModified": epoch_ms(form.created),
        "content": {"questions": questions, "legalInfo": {"consents": []}},
        "hiddenFields": [],
    }


def lead_element(lead: SandboxLead, faults: FaultPlan, malformed: set[CampaignDayKey]) -> dict:
    """A `leadFormResponses` element; a lead the fault plan malforms is broken on every read."""
    texts = {
        1: lead.first_name,
        2: lead.last_name,
        3: lead.email,
        4: lead.phone,
        5: lead.company,
        6: lead.job_title,
        7: lead.comment,
    }
    answers: list[dict[str, Any]] = [
        {"questionId": qid, "answerDetails": {"textQuestionAnswer": {"answer": text}}}
        for qid, text in texts.items()
        if text
    ]
    answers.append(
        {
            "questionId": 8,
            "answerDetails": {
                "multipleChoiceAnswer": {"options": [TEAM_SIZES.index(lead.team_size) + 1]}
            },
        }
    )
    element: dict[str, Any] = {
        "id": lead.lead_id,
        "owner": {"sponsoredAccount": f"urn:li:sponsoredAccount:{lead.account_id}"},
        "leadType": "SPONSORED",
        "versionedLeadGenFormUrn": f"urn:li:versionedLeadGenForm:(urn:li:leadGenForm:"
        f"{lead.form_id},1)",
        "leadMetadata": {
            "sponsoredLeadMetadata": {"campaign": f"urn:li:sponsoredCampaign:{lead.campaign_id}"}
        },
        "associatedEntity": (
            {"associatedCreative": f"urn:li:sponsoredCreative:{lead.creative_id}"}
            if lead.creative_id
            else {}
        ),
        "submitter": f"urn:li:person:{lead.lead_id[:8]}",
        "submittedAt": epoch_ms(lead.submitted_at),
        "testLead": lead.test_lead,
        "formResponse": {"answers": answers, "consentResponses": []},
    }
    if faults.row_is_malformed(PLATFORM, lead.fault_key):
        malformed.add(lead.fault_key)
        if faults.malformation(PLATFORM, lead.fault_key, 2) == 0:
            element["submittedAt"] = lead.submitted_at.isoformat()
        else:
            element["formResponse"]["answers"][2] = {"questionId": 3, "answerDetails": {}}
    return element


def owner_account(value: str) -> str:
    """The ad account id of a Rest.li `owner=(sponsoredAccount:<encoded urn>)` value."""
    match = re.fullmatch(r"\(sponsoredAccount:([^)]*)\)", value)
    urn = unquote(match.group(1)) if match else ""
    if not urn.startswith("urn:li:sponsoredAccount:"):
        raise LeadSyncError(
            400,
            "ILLEGAL_ARGUMENT",
            "owner must be (sponsoredAccount:<encoded sponsoredAccount urn>)",
        )
    return urn.removeprefix("urn:li:sponsoredAccount:")


def time_range(value: str) -> tuple[datetime, datetime]:
    """`submittedAtTimeRange=(start:<ms>,end:<ms>)` as UTC datetimes."""
    match = re.fullmatch(r"\(start:(\d{1,15}),end:(\d{1,15})\)", value)
    if not match:
        raise LeadSyncError(
            400,
            "ILLEGAL_ARGUMENT",
            "submittedAtTimeRange must be (start:<epoch ms>,end:<epoch ms>)",
        )
    start, end = (datetime.fromtimestamp(int(g) / 1000, UTC) for g in match.groups())
    return start, end


def restli_page(elements: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
    """One Rest.li `start`/`count` page with `paging.total` (count capped like the API)."""
    try:
        start = int(params.get("start", "0"))
        count = int(params.get("count", "10"))
    except ValueError:
        raise LeadSyncError(400, "ILLEGAL_ARGUMENT", "start and count must be integers") from None
    if start < 0 or not 1 <= count <= MAX_PAGE_COUNT:
        raise LeadSyncError(
            400, "ILLEGAL_ARGUMENT", f"start >= 0 and 1 <= count <= {MAX_PAGE_COUNT} required"
        )
    return {
        "elements": elements[start : start + count],
        "paging": {"start": start, "count": count, "total": len(elements), "links": []},
    }


class LeadSync:
    """The Lead Sync resources of the LinkedIn simulator (it routes `/rest/lead…` here)."""

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.malformed_keys: set[CampaignDayKey] = set()

    def route(
        self,
        resource: list[str],
        params: dict[str, str],
        faults: FaultPlan,
        account: Any,
    ) -> dict[str, Any]:
        """Answer `/rest/<resource…>`; `account(id)` resolves an ad account or raises 403."""
        if resource == ["leadForms"]:
            if params.get("q") != "owner":
                raise LeadSyncError(400, "ILLEGAL_ARGUMENT", "q=owner required")
            sandbox_account: SandboxAccount = account(owner_account(params.get("owner", "")))
            forms = lead_forms(self.world, sandbox_account.account_id)
            return restli_page([form_element(f) for f in forms], params)
        if resource == ["leadFormResponses"]:
            if params.get("q") != "owner":
                raise LeadSyncError(400, "ILLEGAL_ARGUMENT", "q=owner required")
            if params.get("leadType") != "(leadType:SPONSORED)":
                raise LeadSyncError(
                    400, "ILLEGAL_ARGUMENT", "leadType=(leadType:SPONSORED) required"
                )
            sandbox_account = account(owner_account(params.get("owner", "")))
            start, end = time_range(params.get("submittedAtTimeRange", ""))
            leads = leads_between(self.world, sandbox_account.account_id, start, end)
            elements = [lead_element(lead, faults, self.malformed_keys) for lead in leads]
            return restli_page(elements, params)
        if len(resource) == 2 and resource[0] == "leadFormResponses":
            lead = find_lead(self.world, unquote(resource[1]))
            if lead is None:
                raise LeadSyncError(404, "NOT_FOUND", f"No lead {resource[1]}")
            account(lead.account_id)
            return lead_element(lead, faults, self.malformed_keys)
        raise LeadSyncError(404, "NOT_FOUND", f"No resource /rest/{'/'.join(resource)}")
