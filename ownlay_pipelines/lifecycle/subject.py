"""The person a GDPR request is about: one identifier, and how each store recognises it.

The lake never holds an e-mail address, only its HMAC keyed hash (`privacy.keyed_hash`), so an
e-mail is matched through the same hash in every `email_hash` / `*_email_hash` column. User and
anonymous ids are stored verbatim and matched as they are. Stores that keep data as received
(connector quarantines, webhook bodies, the ops store's `api_records.email`) are matched on the
raw value; the uploads' quarantine keeps an e-mail cell as its keyed hash, matched as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ownlay_pipelines.privacy.keyed_hash import PiiHasher
from ownlay_pipelines.registry.tenant import validate_workspace_id

RAW_RECORD_COLUMN = "raw_record"
"""Quarantine tables keep the refused record (JSON text): as received by the connectors, with
personal data hashed, removed or masked by uploads."""


class IdentifierKind(StrEnum):
    """What the request identifies the person by."""

    EMAIL = "email"
    USER_ID = "user_id"
    ANONYMOUS_ID = "anonymous_id"


@dataclass(frozen=True)
class DataSubject:
    """One person in one workspace, identified by an e-mail, a user id or an anonymous id."""

    workspace_id: str
    kind: IdentifierKind
    value: str
    identifier_hash: str
    """The keyed hash the suppression list and the audit log keep instead of the value."""

    @classmethod
    def of(
        cls, workspace_id: str, kind: IdentifierKind, value: str, hasher: PiiHasher
    ) -> DataSubject:
        """Validate and normalise (an e-mail is trimmed and lower-cased, as the lake hashes it)."""
        validate_workspace_id(workspace_id)
        value = value.strip()
        if not value:
            raise ValueError(f"{kind.value}: the identifier is empty")
        if kind is IdentifierKind.EMAIL:
            if "@" not in value:
                raise ValueError(f"email: {value!r} is not an e-mail address")
            value = value.lower()
            return cls(workspace_id, kind, value, hasher.hash_email(value))
        return cls(workspace_id, kind, value, hasher.hash_identifier(value))

    def equality_columns(self, column_names: list[str]) -> list[str]:
        """The columns of a table that hold this identifier (or its hash) as the whole value."""
        if self.kind is IdentifierKind.EMAIL:
            return [n for n in column_names if n == "email_hash" or n.endswith("_email_hash")]
        return [n for n in column_names if n == self.kind.value]

    @property
    def equality_value(self) -> str:
        """What those columns hold for this person: the e-mail's keyed hash, or the id."""
        return self.identifier_hash if self.kind is IdentifierKind.EMAIL else self.value

    @property
    def raw_needles(self) -> tuple[str, ...]:
        """Texts that mark this person inside a quarantined record (JSON): an e-mail as received
        (connector quarantines) or as its keyed hash (uploads' quarantine keeps e-mail cells
        only as `[keyed hash] <hex>`, `uploads.quarantine_record`); an id as a JSON string."""
        if self.kind is IdentifierKind.EMAIL:
            return (self.value, self.identifier_hash)
        return (f'"{self.value}"',)
