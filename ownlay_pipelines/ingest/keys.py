"""Per-workspace API keys for the ingestion endpoints, stored hashed in the ops store.

A key reads `olk_<key id>_<secret>`; the secret is 256 random bits, so a plain SHA-256 of the key is
enough (a slow password hash only matters for guessable secrets). Only the key id, which is not
secret, is ever logged. The table lives in the ops store beside the watchtower's tables and uses
its engine factory (SQLite file by default, PostgreSQL via `OWNLAY_DATABASE_URL`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from ownlay_pipelines.registry.tenant import validate_workspace_id
from ownlay_pipelines.watchtower.store import create_store_engine
from ownlay_pipelines.watchtower.tables import TENANT_LENGTH, UtcDateTime

KEY_PREFIX = "olk"
KEY_PATTERN = re.compile(r"^olk_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")

metadata = sa.MetaData()

ingest_api_keys = sa.Table(
    "ingest_api_keys",
    metadata,
    sa.Column("key_id", sa.String(12), primary_key=True),
    sa.Column("workspace_id", sa.String(TENANT_LENGTH), nullable=False, index=True),
    sa.Column("key_sha256", sa.String(64), nullable=False),
    sa.Column("label", sa.String(200), nullable=False, default=""),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    comment="One row per ingestion API key ever issued; the key itself is stored only as SHA-256.",
)


@dataclass(frozen=True)
class IssuedApiKey:
    """A freshly created key: the plaintext is shown once and never stored."""

    key_id: str
    workspace_id: str
    plaintext: str

    def __repr__(self) -> str:
        return f"IssuedApiKey(key_id={self.key_id!r}, workspace_id={self.workspace_id!r})"


@dataclass(frozen=True)
class ApiKeyInfo:
    """What the store knows about one key: its id, workspace, label and lifetime (no secret)."""

    key_id: str
    workspace_id: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


def open_key_store(database_url: str) -> sa.Engine:
    """The ops-store engine with the `ingest_api_keys` table present."""
    engine = create_store_engine(database_url)
    metadata.create_all(engine)
    return engine


def create_api_key(
    engine: sa.Engine, workspace_id: str, *, label: str = "", now: datetime | None = None
) -> IssuedApiKey:
    """Issue a new key for `workspace_id`; only its hash is stored."""
    validate_workspace_id(workspace_id)
    key_id = secrets.token_hex(6)
    plaintext = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    with engine.begin() as connection:
        connection.execute(
            ingest_api_keys.insert().values(
                key_id=key_id,
                workspace_id=workspace_id,
                key_sha256=_sha256(plaintext),
                label=label[:200],
                created_at=now or datetime.now(UTC),
            )
        )
    return IssuedApiKey(key_id=key_id, workspace_id=workspace_id, plaintext=plaintext)


def revoke_api_key(engine: sa.Engine, key_id: str, *, now: datetime | None = None) -> bool:
    """Revoke the key with `key_id`; False when no active key has that id."""
    with engine.begin() as connection:
        result = connection.execute(
            ingest_api_keys.update()
            .where(ingest_api_keys.c.key_id == key_id, ingest_api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now or datetime.now(UTC))
        )
    return result.rowcount == 1


def list_api_keys(engine: sa.Engine, workspace_id: str | None = None) -> list[ApiKeyInfo]:
    """Every key issued (for one workspace if given), oldest first."""
    query = sa.select(
        ingest_api_keys.c.key_id,
        ingest_api_keys.c.workspace_id,
        ingest_api_keys.c.label,
        ingest_api_keys.c.created_at,
        ingest_api_keys.c.revoked_at,
    ).order_by(ingest_api_keys.c.created_at, ingest_api_keys.c.key_id)
    if workspace_id is not None:
        query = query.where(ingest_api_keys.c.workspace_id == workspace_id)
    with engine.connect() as connection:
        return [ApiKeyInfo(*row) for row in connection.execute(query)]


def workspace_for_key(engine: sa.Engine, presented: str) -> str | None:
    """The workspace an active key belongs to, or None for a malformed, unknown or revoked key."""
    match = KEY_PATTERN.fullmatch(presented)
    if match is None:
        return None
    query = sa.select(ingest_api_keys.c.workspace_id, ingest_api_keys.c.key_sha256).where(
        ingest_api_keys.c.key_id == match.group(1), ingest_api_keys.c.revoked_at.is_(None)
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None or not hmac.compare_digest(row.key_sha256, _sha256(presented)):
        return None
    return row.workspace_id


class CachedKeyLookup:
    """Remembers which workspace a valid key belongs to for `ttl_seconds`, so most requests skip
    the ops store; a revocation therefore takes effect within that time. Refused keys are never
    remembered, so a key created a moment ago works at once."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        ttl_seconds: float = 10.0,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self._ttl_seconds = ttl_seconds
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._valid: dict[str, tuple[str, float]] = {}

    def cached(self, presented: str) -> str | None:
        """The workspace of a key verified less than `ttl_seconds` ago, else None."""
        entry = self._valid.get(_sha256(presented))
        if entry is None or entry[1] <= self._monotonic():
            return None
        return entry[0]

    def lookup(self, presented: str) -> str | None:
        """Ask the ops store (`workspace_for_key`) and remember a positive answer."""
        workspace_id = workspace_for_key(self.engine, presented)
        if workspace_id is not None:
            if len(self._valid) >= self._max_entries:
                self._valid.clear()
            self._valid[_sha256(presented)] = (workspace_id, self._monotonic() + self._ttl_seconds)
        return workspace_id


def key_id_of(presented: str) -> str | None:
    """The non-secret id part of a presented key, for logs; None if it is not shaped like a key."""
    match = KEY_PATTERN.fullmatch(presented)
    return match.group(1) if match else None


def _sha256(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()
