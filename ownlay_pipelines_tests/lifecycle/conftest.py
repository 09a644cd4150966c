"""The ingest tests' fixtures (settings under tmp_path, app client, API key), for the GDPR
suppression test: the lifecycle stores under tmp_path are the ones the ingest app uses."""

from ownlay_pipelines_tests.ingest.conftest import (  # noqa: F401 - re-exported fixtures
    acme_key,
    client,
    clock,
    key_store,
    settings,
)
