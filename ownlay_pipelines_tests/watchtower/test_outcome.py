"""The check result the Dagster wiring reads: verdict, severity and JSON-ready metadata."""

from __future__ import annotations

import json
import uuid

from ownlay_pipelines.watchtower.conditions import Severity
from ownlay_pipelines.watchtower.outcome import METADATA_ENTITY_LIMIT, FiredEntity, RuleOutcome


def _entity(index: int) -> FiredEntity:
    return FiredEntity(
        entity={"client_id": "acme-outdoor", "campaign_id": f"c{index}"},
        entity_key=f"{index:064d}",
        client_id="acme-outdoor",
        current_value="1.2",
        previous_value="3.4",
        as_of="2026-11-20",
        state="firing",
    )


def test_metadata_lists_entities_with_values_and_counts_them_all():
    outcome = RuleOutcome(
        rule_id=uuid.UUID(int=7),
        rule_name="Low ROAS",
        target="unified/campaign_metrics_daily",
        severity=Severity.CRITICAL,
        fired=tuple(_entity(i) for i in range(60)),
    )
    metadata = json.loads(json.dumps(outcome.metadata()))
    assert (outcome.passed, outcome.check_severity) == (False, "ERROR")
    assert metadata["fired_count"] == 60 and len(metadata["fired"]) == METADATA_ENTITY_LIMIT
    assert metadata["fired"][0] == {
        "entity": {"client_id": "acme-outdoor", "campaign_id": "c0"},
        "current_value": "1.2",
        "previous_value": "3.4",
        "as_of": "2026-11-20",
        "state": "firing",
        "muted": False,
    }


def test_an_unevaluable_rule_does_not_pass_and_says_why():
    outcome = RuleOutcome(uuid.UUID(int=1), "r", "api_records", Severity.INFO, error="view gone")
    assert (outcome.passed, outcome.check_severity, outcome.metadata()["error"]) == (
        False,
        "WARN",
        "view gone",
    )
