"""One sentence per warehouse view, for the `ownlay_catalog` table analysts read with SQL.

Every table an asset writes is described by that asset's own description (the same text the
Dagster UI shows), so a new asset's view is described without touching this module. Quarantine
tables belong to no asset; each is described from the raw table it mirrors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ownlay_pipelines.lake.quarantine import quarantine_ref
from ownlay_pipelines.lake.tables import TableRef

UPLOADS_SOURCE = "uploads"
"""Quarantines of uploads are per load and keep no personal data in clear (`uploads.load`)."""


def catalog_descriptions(
    asset_descriptions: Mapping[tuple[str, ...], str | None], tables: Iterable[TableRef]
) -> dict[str, str]:
    """Description of each of `tables` (keyed 'layer/source/table'), from the asset descriptions.

    `asset_descriptions` maps an asset key path to its description. A table with neither an
    asset nor a raw table behind it gets a sentence saying so rather than an empty string.
    """
    described: dict[str, str] = {}
    raw_by_quarantine = {
        quarantine_ref(TableRef(parts)): TableRef(parts)
        for parts in asset_descriptions
        if parts[0] == "raw" and len(parts) == 3
    }
    for ref in tables:
        own = asset_descriptions.get(ref.parts)
        if own:
            described[str(ref)] = " ".join(own.split())
        elif ref in raw_by_quarantine and ref.parts[1] == UPLOADS_SOURCE:
            described[str(ref)] = (
                f"Rows of uploaded files loaded into {raw_by_quarantine[ref]} that could not be "
                "read, one row each: line, column, reason and the row as read with its personal "
                "data hashed, removed or masked (raw_record, JSON; docs/privacy.md); one file "
                "per load, replaced with it."
            )
        elif ref in raw_by_quarantine:
            raw = raw_by_quarantine[ref]
            described[str(ref)] = (
                f"Records of {raw} its normaliser refused, one row each: the field at fault, the "
                "reason and the record exactly as received (raw_record, JSON); same partitions "
                f"as {raw}, replaced with them."
            )
        else:
            described[str(ref)] = (
                f"Lake table {ref}; no pipeline asset writes it (left by an older version or "
                "written by hand)."
            )
    return described
