"""Rows a normaliser refused, kept with the field and the reason instead of being dropped.

Quarantine tables mirror the raw table they belong to (`quarantine/<source>/<table>`) and are
partitioned the same way, so re-running a partition replaces its quarantine too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from ownlay_pipelines.lake.tables import TableRef

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("workspace_id", pa.string(), nullable=False),
        pa.field("report_date", pa.date32()),
        pa.field("account_id", pa.string()),
        pa.field("field", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw_record", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True)
class QuarantinedRow:
    """One refused record: the field at fault, why, and the record exactly as received (JSON)."""

    workspace_id: str
    report_date: date | None
    account_id: str
    field: str
    reason: str
    raw_record: str

    @classmethod
    def of(
        cls,
        record: object,
        *,
        workspace_id: str,
        account_id: str,
        field: str,
        reason: str,
        report_date: date | None,
    ) -> QuarantinedRow:
        raw = json.dumps(record, sort_keys=True, default=str)
        return cls(workspace_id, report_date, account_id, field, reason, raw)


def quarantine_ref(ref: TableRef) -> TableRef:
    """The quarantine table that belongs to raw table `ref`."""
    return TableRef(("quarantine", *ref.parts[1:]))


def quarantine_table(rows: list[QuarantinedRow]) -> pa.Table:
    """Arrow table of quarantined rows, in a stable order so rewrites are identical."""
    ordered = sorted(rows, key=lambda r: (r.account_id, str(r.report_date), r.raw_record))
    return pa.Table.from_pylist([r.__dict__ for r in ordered], schema=QUARANTINE_SCHEMA)
