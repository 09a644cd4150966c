import hashlib

import pytest
import sqlalchemy as sa

from ownlay_pipelines.ingest.keys import (
    CachedKeyLookup,
    create_api_key,
    ingest_api_keys,
    list_api_keys,
    open_key_store,
    revoke_api_key,
    workspace_for_key,
)
from ownlay_pipelines_tests.ingest.payloads import NOW


def test_created_key_resolves_to_its_workspace_and_only_its_hash_is_stored(key_store: sa.Engine):
    issued = create_api_key(key_store, "acme", label="storefront", now=NOW)

    with key_store.connect() as connection:
        stored = connection.execute(sa.select(ingest_api_keys)).one()

    assert workspace_for_key(key_store, issued.plaintext) == "acme"
    assert stored.key_sha256 == hashlib.sha256(issued.plaintext.encode()).hexdigest()
    assert issued.plaintext not in str(tuple(stored))
    assert issued.plaintext not in repr(issued)


def test_revoked_key_no_longer_resolves_and_revoking_twice_says_so(key_store: sa.Engine):
    issued = create_api_key(key_store, "acme")

    assert revoke_api_key(key_store, issued.key_id, now=NOW) is True
    assert revoke_api_key(key_store, issued.key_id) is False
    assert workspace_for_key(key_store, issued.plaintext) is None
    (info,) = list_api_keys(key_store, "acme")
    assert info.revoked_at == NOW


def test_keys_are_listed_per_workspace_without_secrets(key_store: sa.Engine):
    create_api_key(key_store, "acme", now=NOW)
    create_api_key(key_store, "globex", now=NOW)

    assert sorted(info.workspace_id for info in list_api_keys(key_store)) == ["acme", "globex"]
    assert [info.workspace_id for info in list_api_keys(key_store, "globex")] == ["globex"]


def test_key_for_an_invalid_workspace_is_refused(key_store: sa.Engine):
    with pytest.raises(ValueError, match="is not a slug"):
        create_api_key(key_store, "../etc")


def test_cached_lookup_keeps_a_revoked_key_only_until_its_ttl_runs_out(key_store: sa.Engine):
    issued = create_api_key(key_store, "acme")
    seconds = [0.0]
    keys = CachedKeyLookup(key_store, ttl_seconds=10, monotonic=lambda: seconds[0])

    assert keys.cached(issued.plaintext) is None
    assert keys.lookup(issued.plaintext) == "acme"
    revoke_api_key(key_store, issued.key_id)
    seconds[0] = 9.9
    assert keys.cached(issued.plaintext) == "acme"
    seconds[0] = 10.0
    assert keys.cached(issued.plaintext) is None
    assert keys.lookup(issued.plaintext) is None


def test_key_store_works_on_postgresql_from_a_plain_url(postgresql_url: str):
    engine = open_key_store(postgresql_url)
    try:
        issued = create_api_key(engine, "acme", now=NOW)

        assert engine.url.drivername == "postgresql+psycopg2"
        assert workspace_for_key(engine, issued.plaintext) == "acme"
        assert revoke_api_key(engine, issued.key_id, now=NOW) is True
        assert workspace_for_key(engine, issued.plaintext) is None
        assert list_api_keys(engine)[0].revoked_at == NOW
    finally:
        engine.dispose()
