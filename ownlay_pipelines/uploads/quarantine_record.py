"""What the quarantine keeps of a refused upload row: `raw_record`, under the privacy classes.

A refused row is kept so that someone can see why it was refused and fix the file; it must not
keep personal data the loaded rows would not (docs/privacy.md "File uploads"). Each column of
the file gets one treatment, decided once per load from its header and the mapping:

- a column the load maps to a contact target (an e-mail column: orders' `customer_email`,
  events' `email`) keeps its cell as `"[keyed hash] <hex>"`, the HMAC pseudonym the loaded rows
  store (`PiiHasher.hash_email`), so GDPR erasure and joins still find the row;
- an unmapped column whose header names personal data (`privacy.personal_columns`: names,
  addresses, phones, e-mails, order notes) keeps `"[removed: personal data]"` instead of a value;
- every other cell is free text: e-mails, phones and IPs in it are masked (`[email]` …).

Empty cells stay null. The record is JSON text, `{"<header>": <cell>, …}`. A line the CSV reader
could not split into the header's columns cannot be lined up with the header: it is kept as
masked text when the file has no personal or contact column, else only as
`"[removed: personal data] <n> fields, the header has <m>"`.

The treatments run in Python, one refused row at a time, as DuckDB functions called by the
quarantine query only: kept rows never reach them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import duckdb

from ownlay_pipelines.privacy.free_text import mask_contact_data
from ownlay_pipelines.privacy.keyed_hash import PiiHasher
from ownlay_pipelines.privacy.personal_columns import is_personal_column
from ownlay_pipelines.uploads.kinds import COLUMNS_BY_KIND, UploadKind, ValueType
from ownlay_pipelines.uploads.mapping import normalise_header

REMOVED = "[removed: personal data]"
HASHED_PREFIX = "[keyed hash] "
RECORD_FUNCTION = "ownlay_quarantine_record"
"""DuckDB function: a refused row's cells (VARCHAR[]) → its `raw_record`."""
LINE_FUNCTION = "ownlay_quarantine_line"
"""DuckDB function: a line the reader refused (VARCHAR) → its `raw_record`."""


class CellTreatment(StrEnum):
    """What the quarantine keeps of one column's cells."""

    HASH_EMAIL = "keyed hash of the e-mail"
    REMOVE = "removed: personal data"
    MASK = "free text, contact data masked"


@dataclass(frozen=True)
class RecordPolicy:
    """The treatment of each column of one file, and the functions that apply them."""

    header: tuple[str, ...]
    treatments: tuple[CellTreatment, ...]
    delimiter: str
    hasher: PiiHasher | None

    def record(self, cells: Sequence[str | None]) -> str:
        """`raw_record` of a refused row: JSON of header → treated cell."""
        kept = {
            name: None if cell is None else self._treat(treatment, cell)
            for name, treatment, cell in zip(self.header, self.treatments, cells, strict=True)
        }
        return json.dumps(kept, ensure_ascii=False, separators=(",", ":"))

    def reader_line(self, line: str) -> str:
        """`raw_record` of a line the reader refused (its text as read)."""
        if all(t is CellTreatment.MASK for t in self.treatments):
            return mask_contact_data(line)
        fields = next(csv.reader([line], delimiter=self.delimiter, quotechar='"'), [])
        if len(fields) == len(self.header):
            return self.record([field or None for field in fields])
        return f"{REMOVED} {len(fields)} fields, the header has {len(self.header)}"

    def register(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Create `RECORD_FUNCTION` and `LINE_FUNCTION` on `connection`."""
        connection.create_function(
            RECORD_FUNCTION, self.record, ["VARCHAR[]"], "VARCHAR", side_effects=False
        )
        connection.create_function(
            LINE_FUNCTION, self.reader_line, ["VARCHAR"], "VARCHAR", side_effects=False
        )

    def _treat(self, treatment: CellTreatment, cell: str) -> str:
        if treatment is CellTreatment.MASK:
            return mask_contact_data(cell)
        if treatment is CellTreatment.HASH_EMAIL and self.hasher is not None:
            return HASHED_PREFIX + self.hasher.hash_email(cell)
        return REMOVED


def record_policy(
    kind: UploadKind,
    header: Sequence[str],
    columns: dict[str, int],
    *,
    delimiter: str = ",",
    hasher: PiiHasher | None = None,
) -> RecordPolicy:
    """The policy of a file of `kind` with `header`, whose `columns` map target → column index.

    A mapped column is treated by its target's type (its header does not matter: Shopify's
    `Name` is the order name); an unmapped one by its header. Without `hasher` an e-mail column
    is removed rather than hashed.
    """
    types = {t.name: t.type for t in COLUMNS_BY_KIND[kind]}
    mapped = {index: types[target] for target, index in columns.items()}
    treatments = []
    for index, name in enumerate(header):
        if index in mapped:
            contact = mapped[index] is ValueType.EMAIL
            treatments.append(CellTreatment.HASH_EMAIL if contact else CellTreatment.MASK)
        elif is_personal_column(normalise_header(name)):
            treatments.append(CellTreatment.REMOVE)
        else:
            treatments.append(CellTreatment.MASK)
    return RecordPolicy(tuple(header), tuple(treatments), delimiter, hasher)
