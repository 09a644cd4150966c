"""LinkedIn lead gen forms and leads against the sandbox: Rest.li paging, privacy, ground truth."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from ownlay_pipelines.connectors import linkedin_ads
from ownlay_pipelines.connectors.sync import sync_stream
from ownlay_pipelines.lake.quarantine import quarantine_ref
from ownlay_pipelines.lake.writer import read_partition
from ownlay_pipelines.privacy.keyed_hash import PII_HASH_KEY_ENV, PiiHasher
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox import FaultPlan, PlatformFaults, SandboxWorld, sandbox_transport
from ownlay_pipelines.sandbox.linkedin_leads import ground_truth_leads, lead_forms
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines_tests.connectors.sandbox_sync import opener

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
END = date(2026, 11, 19)
DAYS = [END - timedelta(days=n) for n in range(90)]
REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)
WORLD = SandboxWorld(REGISTRY, seed=7, now=NOW)
CONNECTOR = linkedin_ads.CONNECTOR
LEADS = next(s for s in CONNECTOR.streams if s.table == "leads")
FORMS = next(s for s in CONNECTOR.streams if s.table == "lead_forms")
KEY = "k" * 32
HASHER = PiiHasher(KEY.encode())
WORKSPACES = [w.id for w in REGISTRY.workspaces if w.connections_for("linkedin_ads")]


@pytest.fixture(autouse=True)
def pii_key(monkeypatch):
    monkeypatch.setenv(PII_HASH_KEY_ENV, KEY)


def _sync(spec, workspace_id, lake, faults=None, days=DAYS):
    transport = sandbox_transport(WORLD, faults)
    result = sync_stream(
        spec,
        workspace=REGISTRY.get(workspace_id),
        open_client=opener(CONNECTOR, transport),
        lake_root=lake,
        days=days,
    )
    return result, transport


def _lake_leads(lake, workspace_id, days=DAYS):
    return [
        row
        for day in days
        for row in read_partition(
            lake, LEADS.ref, workspace_id=workspace_id, report_date=day
        ).to_pylist()
    ]


def _truth(workspace_id, days=DAYS):
    return [
        lead
        for connection in REGISTRY.get(workspace_id).connections_for("linkedin_ads")
        for day in days
        for lead in ground_truth_leads(WORLD, connection.account_id, day)
    ]


@pytest.mark.parametrize("workspace_id", WORKSPACES)
def test_ninety_days_of_leads_equal_the_ground_truth_under_faults(tmp_path, workspace_id):
    faults = FaultPlan(
        {
            "linkedin_ads": PlatformFaults(
                throttle_rate=0.1, server_error_rate=0.1, malformed_row_rate=0.05
            )
        },
        seed=3,
    )
    result, transport = _sync(LEADS, workspace_id, tmp_path, faults)

    malformed = transport.simulator("linkedin_ads").lead_sync.malformed_keys
    truth = {lead.lead_id: lead for lead in _truth(workspace_id)}
    rows = {row["lead_id"]: row for row in _lake_leads(tmp_path, workspace_id)}
    assert set(rows) == {i for i, lead in truth.items() if lead.fault_key not in malformed}
    assert result.quarantined == len(malformed)
    assert bool(malformed) == bool(truth)  # 5 % of a few hundred leads: some are malformed
    for lead_id, row in rows.items():
        lead = truth[lead_id]
        assert row["email_hash"] == HASHER.hash_email(lead.email)
        assert row["phone_hash"] == HASHER.hash_phone(lead.phone)
        assert (row["form_id"], row["campaign_id"]) == (lead.form_id, lead.campaign_id)
        assert (row["company"], row["job_title"]) == (lead.company, lead.job_title)
        assert row["submitted_at"] == lead.submitted_at and row["test_lead"] == lead.test_lead
        answers = json.loads(row["custom_answers"])
        assert answers["teamSize"] == [lead.team_size]
        assert lead.email.lower() not in json.dumps(answers).lower()
        assert lead.phone not in answers.get("comment", "")
        assert lead.first_name not in str(row) and lead.last_name not in str(row)
    quarantined = [
        row
        for day in DAYS
        for row in read_partition(
            tmp_path, quarantine_ref(LEADS.ref), workspace_id=workspace_id, report_date=day
        ).to_pylist()
    ]
    assert len(quarantined) == len(malformed)
    for row in quarantined:  # a refused lead is quarantined without its plain contact data
        lead = truth[json.loads(row["raw_record"])["id"]]
        assert lead.email not in row["raw_record"] and lead.last_name not in row["raw_record"]


def test_ground_truth_has_leads_with_contact_data_in_free_text():
    leads = _truth("acme-outdoor")
    assert len(leads) > 200
    assert any("@" in lead.comment for lead in leads)
    assert any("+1 415" in lead.comment for lead in leads)


def test_free_text_contact_data_is_masked_not_dropped(tmp_path):
    _sync(LEADS, "acme-outdoor", tmp_path)
    comments = [
        json.loads(r["custom_answers"]).get("comment", "")
        for r in _lake_leads(tmp_path, "acme-outdoor")
    ]
    assert any(c.startswith("Please call me on [phone]") for c in comments)
    assert any(c.startswith("Reach me at [email]") for c in comments)


def test_leads_page_with_restli_start_and_count_and_a_utc_submitted_range(tmp_path):
    result, transport = _sync(LEADS, "acme-outdoor", tmp_path)

    calls = [r.url for r in transport.request_log if "/leadFormResponses?" in r.url]
    assert len(calls) == 3  # 265 leads in pages of 100
    assert [c.split("&start=")[1] for c in calls] == [
        "0&count=100",
        "100&count=100",
        "200&count=100",
    ]
    first = calls[0]
    assert "q=owner&owner=(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A508000001)" in first
    assert "leadType=(leadType:SPONSORED)" in first
    start_ms = int(datetime(2026, 8, 22, tzinfo=UTC).timestamp() * 1000)
    end_ms = int(datetime(2026, 11, 20, tzinfo=UTC).timestamp() * 1000)
    assert f"submittedAtTimeRange=(start:{start_ms},end:{end_ms})" in first
    assert result.rows == len(_truth("acme-outdoor"))


def test_without_a_pii_key_contact_columns_stay_empty(tmp_path, monkeypatch):
    monkeypatch.delenv(PII_HASH_KEY_ENV)
    _sync(LEADS, "blumen-haus", tmp_path, days=DAYS[:30])
    rows = _lake_leads(tmp_path, "blumen-haus", DAYS[:30])
    assert rows and all(r["email_hash"] is None and r["phone_hash"] is None for r in rows)


def test_lead_forms_snapshot_lists_each_lead_generation_campaigns_form(tmp_path):
    _sync(FORMS, "acme-outdoor", tmp_path)
    table = read_partition(tmp_path, FORMS.ref, workspace_id="acme-outdoor").to_pylist()
    assert sorted(r["form_id"] for r in table) == sorted(
        f.form_id for f in lead_forms(WORLD, "508000001")
    )
    assert {(r["state"], r["question_count"]) for r in table} == {("PUBLISHED", 8)}


def test_rerun_of_lead_days_gives_identical_files(tmp_path):
    _sync(LEADS, "acme-outdoor", tmp_path, days=DAYS[:14])
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")}
    _sync(LEADS, "acme-outdoor", tmp_path, days=DAYS[:14])
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")} == before
