"""LinkedIn Lead Sync: lead gen forms and the leads they collect, with personal data protected.

Wire facts (learn.microsoft.com/linkedin/marketing/lead-sync/leadsync): the `leadForms` and
`leadFormResponses` finders (`q=owner`, `owner=(sponsoredAccount:<encoded urn>)`; leads also
`leadType=(leadType:SPONSORED)` and `submittedAtTimeRange=(start:<ms>,end:<ms>)`) take the same
versioned headers as every Marketing API call and page with Rest.li `start`/`count` until
`paging.total`; Rest.li values keep `(`, `)`, `:` and `,` unescaped, so queries are built by hand
(httpx would escape them). `submittedAt` is epoch milliseconds, so leads are filed by UTC day.

A lead is personal data. The e-mail and phone answers are stored only as keyed HMAC pseudonyms
(`privacy.keyed_hash.PiiHasher`, key `OWNLAY_PII_HASH_KEY`; without a key the columns stay
empty, as for Shopify customers); first and last names are not stored at all; company and job
title are kept; custom free-text answers pass through the privacy free-text rules, which mask any
e-mail, phone or IP typed into them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pyarrow as pa

from ownlay_pipelines.connectors.streams import (
    Cadence,
    FetchRequest,
    Partitioning,
    Record,
    StreamSpec,
    key_fields,
    text_fields,
)
from ownlay_pipelines.connectors.wire_values import RowError, to_text
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.errors import FatalApiError
from ownlay_pipelines.http.pagination import dig as json_at
from ownlay_pipelines.privacy.free_text import mask_contact_data
from ownlay_pipelines.privacy.keyed_hash import PiiHasher, optional_hasher
from ownlay_pipelines.schema.platforms import Platform

PAGE_COUNT = 100
"""Rest.li `count` per page (the finders' maximum)."""
MAX_PAGES = 10_000
HASHED_FIELDS = {"EMAIL": "email_hash", "PHONE_NUMBER": "phone_hash"}
DROPPED_FIELDS = frozenset({"FIRST_NAME", "LAST_NAME"})
"""Predefined answers never stored: a name identifies a person and no model needs it."""
KEPT_FIELDS = {"COMPANY_NAME": "company", "JOB_TITLE": "job_title"}
LEAD_LOOKBACK_DAYS = 2
"""Leads are final once submitted, but a member may delete one (LEAD_ACTION DELETED) and late
deliveries of the webhook can lag; the scheduled sync re-reads yesterday and today."""


def owner_param(account_id: str) -> str:
    """`owner=(sponsoredAccount:<encoded urn>)` with the URN percent-encoded inside Rest.li."""
    return f"owner=(sponsoredAccount:{quote(f'urn:li:sponsoredAccount:{account_id}', safe='')})"


def restli_elements(client: ApiClient, path: str, query: str) -> Iterator[Mapping[str, Any]]:
    """Every element of a Rest.li finder, page by page (`start`/`count`, until `paging.total`)."""
    start = 0
    for _ in range(MAX_PAGES):
        body = client.request_json("GET", f"{path}?{query}&start={start}&count={PAGE_COUNT}")
        client.stats.pages += 1
        elements = list(json_at(body, "elements") or [])
        yield from elements
        start += len(elements)
        total = json_at(body, ("paging", "total"))
        if not elements or (total is not None and start >= int(total)):
            return
    raise FatalApiError(
        f"GET {path} still had pages after {MAX_PAGES}",
        platform=client.platform,
        account_id=client.account_id,
    )


def form_questions(client: ApiClient) -> dict[str, dict[int, Mapping[str, Any]]]:
    """Form id → question id → question, for every form of the client's ad account."""
    forms: dict[str, dict[int, Mapping[str, Any]]] = {}
    for form in restli_elements(client, "leadForms", f"q=owner&{owner_param(client.account_id)}"):
        questions = json_at(form, ("content", "questions")) or []
        forms[str(form.get("id"))] = {int(q["questionId"]): q for q in questions}
    return forms


def _fetch_forms(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
    yield from restli_elements(client, "leadForms", f"q=owner&{owner_param(client.account_id)}")


def _fetch_leads(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
    assert request.date_range is not None
    questions = form_questions(client)
    hasher = optional_hasher()
    start, end = request.date_range.bounds_in(UTC)
    query = (
        f"q=owner&{owner_param(client.account_id)}&leadType=(leadType:SPONSORED)"
        f"&submittedAtTimeRange=(start:{_ms(start)},end:{_ms(end)})"
    )
    for element in restli_elements(client, "leadFormResponses", query):
        yield protect_lead(element, questions, hasher)


def protect_lead(
    element: Mapping[str, Any],
    questions: Mapping[str, Mapping[int, Mapping[str, Any]]],
    hasher: PiiHasher | None,
) -> dict[str, Any]:
    """The lead with its personal data protected before anything else sees it.

    Runs in the fetcher, so even a lead refused by the normaliser reaches quarantine without a
    plain e-mail, phone or name: `formResponse` and `submitter` are replaced by `_answers`, one
    `{"questionId", "column", "value"}` per answer, where `column` says where the protected value
    goes (`email_hash`, `phone_hash`, `company`, `job_title`, `custom:<name>`, `dropped`) or is
    None when the answer cannot be placed (an unknown question, no answer details).
    """
    form_id = form_id_of(element.get("versionedLeadGenFormUrn"))
    form = questions.get(form_id or "", {})
    answers = []
    for answer in json_at(element, ("formResponse", "answers")) or []:
        question_id = answer.get("questionId")
        question = form.get(question_id) if isinstance(question_id, int) else None
        details = answer.get("answerDetails") or {}
        text = json_at(details, ("textQuestionAnswer", "answer"))
        chosen = json_at(details, ("multipleChoiceAnswer", "options"))
        column, value = _protected_answer(question, text, chosen, hasher)
        answers.append({"questionId": question_id, "column": column, "value": value})
    submitted = element.get("submittedAt")
    day = (
        datetime.fromtimestamp(submitted / 1000, UTC).date().isoformat()
        if isinstance(submitted, int) and not isinstance(submitted, bool)
        else None
    )
    kept = {k: v for k, v in element.items() if k not in ("formResponse", "submitter")}
    return {**kept, "_answers": answers, "_day": day}


def _protected_answer(
    question: Mapping[str, Any] | None,
    text: object,
    chosen: object,
    hasher: PiiHasher | None,
) -> tuple[str | None, Any]:
    if text is None and not isinstance(chosen, list):
        return None, None
    if question is None:
        return None, mask_contact_data(str(text)) if text is not None else chosen
    predefined = question.get("predefinedField")
    if predefined in DROPPED_FIELDS:
        return "dropped", None
    if predefined in HASHED_FIELDS:
        column = HASHED_FIELDS[predefined]
        if hasher is None or not text:
            return column, None
        if column == "email_hash":
            return column, hasher.hash_email(str(text))
        return column, hasher.hash_phone(str(text))
    if predefined in KEPT_FIELDS:
        return KEPT_FIELDS[predefined], mask_contact_data(str(text))
    name = f"custom:{question.get('name') or question.get('questionId')}"
    if text is not None:
        return name, mask_contact_data(str(text))
    return name, _option_labels(question, chosen)  # type: ignore[arg-type]


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def form_id_of(urn: object) -> str | None:
    """`urn:li:versionedLeadGenForm:(urn:li:leadGenForm:123,1)` → "123"."""
    text = str(urn or "")
    marker = "urn:li:leadGenForm:"
    if marker not in text:
        return None
    return text.split(marker, 1)[1].split(",", 1)[0].rstrip(")")


def _urn_tail(value: object) -> str | None:
    return str(value).rsplit(":", 1)[-1] if value else None


def _normalise_form(record: Record, request: FetchRequest) -> dict[str, Any]:
    questions = json_at(record, ("content", "questions")) or []
    return {
        **request.row_keys(),
        "form_id": to_text(record.get("id"), "id"),
        "form_name": to_text(record.get("name"), "name", required=False),
        "state": to_text(record.get("state"), "state", required=False),
        "version_id": to_text(record.get("versionId"), "versionId", required=False),
        "question_count": len(questions),
        "created_at": _timestamp(record.get("created"), "created", required=False),
    }


def _timestamp(value: object, field: str, *, required: bool = True) -> datetime | None:
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RowError(field, f"must be epoch milliseconds, got {value!r}")
    return datetime.fromtimestamp(value / 1000, UTC)


def normalise_lead(record: Record, request: FetchRequest) -> dict[str, Any]:
    """One lead row from a protected record (`protect_lead`): ids, submission time, pseudonyms
    of the contact answers, company and job title, masked custom answers as JSON."""
    submitted_at = _timestamp(record.get("submittedAt"), "submittedAt")
    assert submitted_at is not None
    form_id = form_id_of(record.get("versionedLeadGenFormUrn"))
    if form_id is None:
        raise RowError("versionedLeadGenFormUrn", "does not name a leadGenForm")
    row: dict[str, Any] = {
        **request.row_keys(),
        "lead_id": to_text(record.get("id"), "id"),
        "report_date": submitted_at.date(),
        "submitted_at": submitted_at,
        "form_id": form_id,
        "campaign_id": _urn_tail(
            json_at(record, ("leadMetadata", "sponsoredLeadMetadata", "campaign"))
        ),
        "creative_id": _urn_tail(json_at(record, ("associatedEntity", "associatedCreative"))),
        "lead_type": to_text(record.get("leadType"), "leadType", required=False),
        "test_lead": bool(record.get("testLead", False)),
        "email_hash": None,
        "phone_hash": None,
        "company": None,
        "job_title": None,
    }
    custom: dict[str, Any] = {}
    for answer in record.get("_answers") or []:
        column, value = answer.get("column"), answer.get("value")
        if column is None:
            raise RowError(
                f"formResponse.answers[{answer.get('questionId')}]",
                "is not a question of the form or has no answer details",
            )
        if column.startswith("custom:"):
            custom[column.removeprefix("custom:")] = value
        elif column != "dropped":
            row[column] = value
    row["custom_answers"] = json.dumps(custom, sort_keys=True, ensure_ascii=False)
    return row


def _option_labels(question: Mapping[str, Any], chosen: list[Any]) -> list[str]:
    options = json_at(question, ("questionDetails", "multipleChoiceQuestionDetails", "options"))
    labels = {
        o.get("id"): json_at(o, ("text", "localized", "en_US")) or str(o.get("id"))
        for o in options or []
    }
    return [str(labels.get(choice, choice)) for choice in chosen]


LEAD_SCHEMA = pa.schema(
    [
        *key_fields("lead_id"),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("submitted_at", pa.timestamp("us", tz="UTC"), nullable=False),
        *text_fields("form_id", "campaign_id", "creative_id", "lead_type"),
        pa.field("test_lead", pa.bool_()),
        *text_fields("email_hash", "phone_hash", "company", "job_title", "custom_answers"),
    ]
)

STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        platform=Platform.LINKEDIN_ADS,
        table="lead_forms",
        description="One row per LinkedIn lead gen form of the ad account (leadForms, q=owner).",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.HOURLY,
        schema=pa.schema(
            [
                *key_fields("form_id"),
                *text_fields("form_name", "state", "version_id"),
                pa.field("question_count", pa.int64()),
                pa.field("created_at", pa.timestamp("us", tz="UTC")),
            ]
        ),
        primary_key=("account_id", "form_id"),
        fetch=_fetch_forms,
        normalise=_normalise_form,
    ),
    StreamSpec(
        platform=Platform.LINKEDIN_ADS,
        table="leads",
        description="One row per LinkedIn lead (leadFormResponses, SPONSORED) filed by its UTC "
        "submission day: e-mail and phone only as keyed HMAC pseudonyms, names dropped, free "
        "text masked (custom_answers, JSON by question name). The signed lead webhook applies "
        "new and deleted leads between syncs (`connectors/linkedin_lead_webhooks.py`).",
        partitioning=Partitioning.DATE_AND_WORKSPACE,
        cadence=Cadence.HOURLY,
        schema=LEAD_SCHEMA,
        primary_key=("account_id", "lead_id"),
        fetch=_fetch_leads,
        normalise=normalise_lead,
        restatement_lookback_days=LEAD_LOOKBACK_DAYS,
        wire_date_path="_day",
    ),
)
