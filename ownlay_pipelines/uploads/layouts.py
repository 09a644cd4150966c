"""Exports whose header says which tool wrote them, and what that tells the load beyond header names.

A layout is recognised when every one of its `signature` headers is in the file (normalised as
`mapping.normalise_header` does). It then fixes the columns whose generic suggestion would be
wrong for that export, and may say how the export groups rows.

**Shopify orders export** (admin → Orders → Export): one row per *line item*. The order's first
row carries the order-level fields (`Email`, `Financial Status`, `Currency`, `Total`,
`Created at`, `Id`…); the order's further rows repeat only `Name` (`#1001`) and fill the
`Lineitem …` columns. The order id is Shopify's numeric `Id` (what the Shopify connector stores
as `order_id`), `Name` is kept as `order_name`; `Source` is the sales channel (`web`, `pos`),
not a UTM source, so it is left unmapped. A row whose `Name` repeats an earlier row's and whose
`Total` is empty is the same order's line item: skipped (`skipped.py`), never an order of its own
and never a bad row, so totals are the first row's and never summed over line items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ownlay_pipelines.uploads.kinds import UploadKind


@dataclass(frozen=True)
class ExportLayout:
    """One tool's export: how to recognise it and which file column fills which target."""

    name: str
    kind: UploadKind
    signature: frozenset[str]
    """Normalised headers that must all be present."""
    columns: Mapping[str, tuple[str, ...]]
    """Target → normalised headers to fill it from, the first present one wins."""
    unmapped: frozenset[str] = frozenset()
    """Targets the generic suggestion must not fill from this export."""
    continuation: tuple[str, str] | None = None
    """(key target, head target): a row whose key repeats an earlier row's and whose head cell is
    empty continues that earlier row (a further line item of the same order)."""


SHOPIFY_ORDERS = ExportLayout(
    name="Shopify orders export",
    kind=UploadKind.ORDERS,
    signature=frozenset({"name", "financial_status", "lineitem_name", "lineitem_quantity"}),
    columns={
        "order_id": ("id", "name"),
        "order_name": ("name",),
        "order_date": ("created_at",),
        "total": ("total",),
        "currency": ("currency",),
        "customer_email": ("email",),
        "status": ("financial_status",),
        "cancelled_at": ("cancelled_at",),
        "refunded_amount": ("refunded_amount",),
    },
    unmapped=frozenset({"utm_source", "utm_campaign"}),
    continuation=("order_name", "total"),
)

LAYOUTS: tuple[ExportLayout, ...] = (SHOPIFY_ORDERS,)


def detect_layout(kind: UploadKind, normalised_headers: Sequence[str]) -> ExportLayout | None:
    """The known export of `kind` whose signature headers the file has, if any."""
    present = set(normalised_headers)
    return next((x for x in LAYOUTS if x.kind is kind and x.signature <= present), None)


def layout_columns(layout: ExportLayout, normalised_headers: Sequence[str]) -> dict[str, int]:
    """Target → index of the header the layout fills it from (targets it has no header for are
    left to the generic suggestion)."""
    chosen: dict[str, int] = {}
    for target, candidates in layout.columns.items():
        index = next(
            (normalised_headers.index(c) for c in candidates if c in normalised_headers), None
        )
        if index is not None:
            chosen[target] = index
    return chosen
