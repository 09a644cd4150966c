"""What an uploaded file can hold: the target columns of each kind, their types and header synonyms.

A target column is what the lake table calls it; its synonyms are normalised header names
(lower case, runs of other characters as one `_`) that suggest it. Suggestions are only
suggestions: a mapping file overrides any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ownlay_pipelines.lake.tables import TableRef


class UploadKind(StrEnum):
    """What a file holds; each kind lands in its own lake table `raw/uploads/<kind>`."""

    COSTS = "costs"
    ORDERS = "orders"
    EVENTS = "events"


class ValueType(StrEnum):
    """How a cell's text becomes a value."""

    TEXT = "text"
    DATE = "date"
    TIMESTAMP = "timestamp"
    MONEY = "money"
    INTEGER = "integer"
    DECIMAL = "decimal"
    EMAIL = "email"
    """Stored only as the keyed HMAC pseudonym (column `<name>_hash`), never as text."""


@dataclass(frozen=True)
class TargetColumn:
    """One column a kind can fill: its name, type, whether a row needs it, header synonyms."""

    name: str
    type: ValueType
    synonyms: tuple[str, ...]
    required: bool = False


COSTS_COLUMNS: tuple[TargetColumn, ...] = (
    # English names first, then the ad platforms' export headers (Meta, Google Ads, Microsoft,
    # LinkedIn, TikTok, Pinterest, Reddit, Snapchat), then the same reports in German, French,
    # Spanish, Italian, Portuguese and Dutch, as the platforms' UIs name them.
    TargetColumn(
        "report_date",
        ValueType.DATE,
        (
            "date",
            "day",
            "report_date",
            "reporting_date",
            "stat_date",
            "date_start",
            "segments_date",
            "reporting_starts",
            "by_day",
            "time_period",
            "timeperiod",
            "start_date_in_utc",
            "start_date",
            "datum",
            "tag",
            "jour",
            "fecha",
            "dia",
            "data",
            "giorno",
            "dag",
        ),
        required=True,
    ),
    TargetColumn("platform", ValueType.TEXT, ("platform", "network", "ad_network", "publisher")),
    TargetColumn(
        "account_id",
        ValueType.TEXT,
        ("account_id", "account", "ad_account", "advertiser", "customer_id", "account_name"),
    ),
    TargetColumn(
        "campaign_id", ValueType.TEXT, ("campaign_id", "campaignid", "cid", "kampagnen_id")
    ),
    TargetColumn(
        "campaign_name",
        ValueType.TEXT,
        (
            "campaign_name",
            "campaign",
            "campaign_title",
            "line_item",
            "sponsorship",
            "kampagne",
            "kampagnenname",
            "campagne",
            "nom_de_la_campagne",
            "campana",
            "nombre_de_la_campana",
            "campagna",
            "nome_campagna",
            "campanha",
            "nome_da_campanha",
        ),
    ),
    TargetColumn(
        "impressions",
        ValueType.INTEGER,
        (
            "impressions",
            "impr",
            "imps",
            "impression",
            "paid_impressions",
            "impressionen",
            "impresiones",
            "impressioni",
            "impressoes",
            "vertoningen",
        ),
    ),
    TargetColumn(
        "clicks",
        ValueType.INTEGER,
        (
            "clicks",
            "link_clicks",
            "click",
            "clicks_all",
            "clicks_destination",
            "pin_clicks",
            "swipe_ups",
            "klicks",
            "clics",
            "clic",
            "cliques",
            "klikken",
        ),
    ),
    TargetColumn(
        "spend",
        ValueType.MONEY,
        (
            "spend",
            "cost",
            "amount_spent",
            "spent",
            "media_cost",
            "ad_spend",
            "costs",
            "amount",
            "total_spent",
            "total_spend",
            "total_cost",
            "spend_in_account_currency",
            "kosten",
            "ausgaben",
            "ausgegebener_betrag",
            "cout",
            "montant_depense",
            "costo",
            "coste",
            "importe_gastado",
            "spesa",
            "importo_speso",
            "custo",
            "valor_gasto",
            "kosten_totaal",
        ),
    ),
    TargetColumn(
        "conversions",
        ValueType.DECIMAL,
        (
            "conversions",
            "purchases",
            "results",
            "total_conversions",
            "website_purchases",
            "complete_payment",
            "checkouts",
            "conv",
            "conversiones",
            "conversioni",
            "conversoes",
        ),
    ),
    TargetColumn(
        "conversion_value",
        ValueType.MONEY,
        (
            "conversion_value",
            "conv_value",
            "purchase_value",
            "revenue",
            "sales",
            "purchases_conversion_value",
            "website_purchases_conversion_value",
            "all_conv_value",
            "total_conversion_value",
            "results_value",
            "total_complete_payment_value",
            "purchase_total_value",
            "total_order_value_checkout",
            "checkout_value",
            "conv_wert",
            "valeur_de_conv",
            "valor_de_conv",
            "valore_conv",
        ),
    ),
    TargetColumn(
        "currency",
        ValueType.TEXT,
        (
            "currency",
            "currency_code",
            "ccy",
            "wahrung",
            "wahrungscode",
            "devise",
            "code_de_la_devise",
            "moneda",
            "codigo_de_moneda",
            "valuta",
            "moeda",
        ),
    ),
)

# Besides generic names, the order exports of WooCommerce (`Order Number`, `Order Total Amount`,
# `Billing Email Address`), BigCommerce (`Order Total (inc tax)`, `Date Created`) and Magento
# (`Purchase Date`, `Grand Total (Purchased)`: the order's own currency, not the base one).
ORDERS_COLUMNS: tuple[TargetColumn, ...] = (
    TargetColumn(
        "order_id",
        ValueType.TEXT,
        ("order_id", "order", "order_number", "order_no", "id", "transaction_id"),
        True,
    ),
    TargetColumn(
        "order_date",
        ValueType.DATE,
        (
            "order_date",
            "date",
            "created_at",
            "processed_at",
            "day",
            "date_created",
            "purchase_date",
            "paid_at",
        ),
        required=True,
    ),
    TargetColumn(
        "total",
        ValueType.MONEY,
        (
            "total",
            "total_price",
            "order_total",
            "revenue",
            "amount",
            "gross_sales",
            "order_total_amount",
            "order_total_inc_tax",
            "grand_total_purchased",
            "grand_total",
            "total_amount",
            "order_value",
        ),
        required=True,
    ),
    TargetColumn(
        "currency", ValueType.TEXT, ("currency", "currency_code", "ccy", "order_currency")
    ),
    TargetColumn(
        "customer_email",
        ValueType.EMAIL,
        (
            "customer_email",
            "email",
            "e_mail",
            "email_address",
            "billing_email",
            "billing_email_address",
        ),
    ),
    TargetColumn("utm_source", ValueType.TEXT, ("utm_source", "source")),
    TargetColumn("utm_campaign", ValueType.TEXT, ("utm_campaign", "campaign")),
    TargetColumn("order_name", ValueType.TEXT, ("order_name",)),
    TargetColumn(
        "status",
        ValueType.TEXT,
        ("status", "order_status", "financial_status", "payment_status"),
    ),
    TargetColumn("cancelled_at", ValueType.TIMESTAMP, ("cancelled_at", "canceled_at")),
    TargetColumn(
        "refunded_amount",
        ValueType.MONEY,
        ("refunded_amount", "amount_refunded", "total_refunded", "refunded"),
    ),
)

EVENTS_COLUMNS: tuple[TargetColumn, ...] = (
    TargetColumn(
        "occurred_at",
        ValueType.TIMESTAMP,
        (
            "occurred_at",
            "timestamp",
            "event_time",
            "time",
            "created_at",
            "date",
            "ts",
            "event_timestamp",
            "timestamp_ms",
            "unix_timestamp",
            "epoch",
        ),
        required=True,
    ),
    TargetColumn(
        "event_type", ValueType.TEXT, ("event_type", "event", "event_name", "type", "action"), True
    ),
    TargetColumn("anonymous_id", ValueType.TEXT, ("anonymous_id", "visitor_id", "client_id")),
    TargetColumn("user_id", ValueType.TEXT, ("user_id", "customer_id")),
    TargetColumn("order_id", ValueType.TEXT, ("order_id",)),
    TargetColumn("revenue", ValueType.MONEY, ("revenue", "value", "amount")),
    TargetColumn("currency", ValueType.TEXT, ("currency", "currency_code", "ccy")),
    TargetColumn("email", ValueType.EMAIL, ("email", "e_mail", "customer_email")),
    TargetColumn("utm_source", ValueType.TEXT, ("utm_source", "source")),
    TargetColumn("utm_medium", ValueType.TEXT, ("utm_medium", "medium")),
    TargetColumn("utm_campaign", ValueType.TEXT, ("utm_campaign", "campaign")),
)

COLUMNS_BY_KIND: dict[UploadKind, tuple[TargetColumn, ...]] = {
    UploadKind.COSTS: COSTS_COLUMNS,
    UploadKind.ORDERS: ORDERS_COLUMNS,
    UploadKind.EVENTS: EVENTS_COLUMNS,
}

DAY_COLUMN_BY_KIND: dict[UploadKind, str] = {
    UploadKind.COSTS: "report_date",
    UploadKind.ORDERS: "order_date",
    UploadKind.EVENTS: "occurred_at",
}
"""The column whose (workspace-local) day says which daily partitions a load touches."""

FREE_TEXT_BY_KIND: dict[UploadKind, frozenset[str]] = {
    UploadKind.COSTS: frozenset({"account_id", "campaign_id", "campaign_name"}),
    UploadKind.ORDERS: frozenset({"utm_source", "utm_campaign"}),
    UploadKind.EVENTS: frozenset({"utm_source", "utm_medium", "utm_campaign"}),
}
"""Text targets a person typed (privacy class free text): stored with e-mails, phones and IPs
masked. Costs' account and campaign ids are names as often as ids, and an id stands in for a
missing name, so they are free text too."""

IDENTIFIERS_BY_KIND: dict[UploadKind, frozenset[str]] = {
    UploadKind.EVENTS: frozenset({"anonymous_id", "user_id"}),
}
"""Opaque identifiers (privacy class): stored as they are, so a row whose id holds an e-mail,
phone number or IP is refused (the ingest service answers 422 for the same event)."""

ONE_OF_REQUIRED: dict[UploadKind, tuple[tuple[str, ...], ...]] = {
    UploadKind.COSTS: (
        ("campaign_id", "campaign_name"),
        ("impressions", "clicks", "spend", "conversions", "conversion_value"),
    ),
}
"""Groups of which a file must map at least one and each row must fill at least one. Costs: a
campaign, and a measure (seed 000 makes each measure optional; a file with none has nothing to
load, and a row with every measure cell empty is a label or subtotal row, not a campaign-day)."""


def upload_table(kind: UploadKind) -> TableRef:
    """`raw/uploads/<kind>`: the lake table a kind's rows land in."""
    return TableRef.of("raw", "uploads", kind.value)


def upload_quarantine_table(kind: UploadKind) -> TableRef:
    """`quarantine/uploads/<kind>`: the rows of a kind's files that could not be read."""
    return TableRef.of("quarantine", "uploads", kind.value)
