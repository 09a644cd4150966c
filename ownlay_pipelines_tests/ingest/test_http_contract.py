"""The ingest API honours its own OpenAPI document: a bounded schemathesis run with every check.

Schemathesis generates valid and invalid requests for every route from the document and checks
each answer (no 5xx, only declared statuses and content types, bodies matching the declared
schemas, invalid data refused, auth enforced, 405 with Allow, …). It talks to the app in-process
through ASGI, so it needs no port. One exception is configured, on purpose: `positive_data_
acceptance` also accepts 400 and 422, because a schema cannot express time windows around the
server clock (event timestamps, Stripe's signature `t`) nor the privacy classes (openapi.py says
so in the document).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import CHECKS, load_all_checks

from ownlay_pipelines.events.model import EventValidationContext, OwnlayEvent, TimestampPolicy
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.keys import create_api_key, open_key_store
from ownlay_pipelines.ingest.openapi import OWNLAY_EVENT_EXAMPLE
from ownlay_pipelines_tests.ingest.payloads import ENVIRON, NOW

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 25
"""Per route and generation mode: bounds the run to a few seconds."""
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "403", "404", "413", "422", "429"]
            }
        }
    }
)


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> tuple[schemathesis.BaseSchema, str]:
    root = tmp_path_factory.mktemp("contract")
    ingest = IngestSettings(
        lake_dir=root / "lake",
        buffer_path=root / "ingest" / "event_buffer.sqlite",
        database_url=f"sqlite:///{root / 'ops.sqlite'}",
        max_body_bytes=64 * 1024,
    )
    key = create_api_key(open_key_store(ingest.database_url), "acme").plaintext
    app = create_app(ingest, clock=FakeClock(NOW), environ=ENVIRON)
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG), key


def test_every_route_honours_the_openapi_document(contract):
    api, key = contract
    load_all_checks()
    checks = CHECKS.get_all()
    failures: dict[str, str] = {}
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def honours(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"X-Ownlay-Api-Key": key}, checks=checks)

        try:
            honours()
        except Exception as error:  # collected per route, reported together
            failures[operation.label] = str(error)[:2000]

    assert failures == {}


def test_every_route_declares_a_body_with_examples_and_its_4xx_answers(contract):
    document = contract[0].raw_schema
    for path, methods in document["paths"].items():
        operation = methods["post"]
        media = operation["requestBody"]["content"]["application/json"]
        assert media["examples"], path
        assert {"400", "401", "413", "415"} <= set(operation["responses"]), path


def test_refusals_any_request_at_a_path_can_get_are_declared_on_each_of_its_operations(
    contract,
):
    # Another method (405), a head too slow or too large (408, 431): answered on every path.
    document = contract[0].raw_schema
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            assert {"405", "408", "431"} <= set(operation["responses"]), (method, path)


def test_the_readme_curl_body_is_the_documented_example_and_validates():
    readme = (REPO_ROOT / "README.md").read_text()
    command = readme[readme.index("curl -sS -X POST") :]
    quoted = command[command.index("-d '") + 4 : command.index("}'") + 1]
    # The shell splices the current time into the body: '"$(date …)"'.
    body = re.sub(r"'\"\$\(date [^)]*\)\"'", NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), quoted)
    event = json.loads(body)

    assert event == {**OWNLAY_EVENT_EXAMPLE, "timestamp": "2026-11-21T12:00:00Z"}
    OwnlayEvent.model_validate(
        event, context=EventValidationContext(now=NOW, policy=TimestampPolicy())
    )
