"""The lake columns of each upload kind, as SQL over the checked rows (`v_<target>` values).

- costs: the shared campaign-day columns (`schema/campaign_metrics.py`), then `platform` (the
  file's platform/network column, normalised to `lower_snake` and to a connector's slug when it
  names one, `Facebook Ads` → `meta_ads`, see `platform_names`; else the mapping default, else
  `upload`), `upload_id`, `source_name`, `source_line`. A missing campaign id is the campaign
  name and the other way round; a missing account is `upload`; a measure the file does not
  give (no column, or an empty cell) is NULL, never a measured 0 (a row with none is refused); the
  currency is the file's currency column, else the money cells' symbol, else the workspace's.
- orders: one row per order of the file (a Shopify export's further line-item rows are skipped,
  see `layouts`), `total` in `currency`, e-mail only as its keyed hash.
- events: one row per event with `occurred_at` (UTC instant) and `event_date` (workspace day).
"""

from __future__ import annotations

from collections.abc import Callable

from ownlay_pipelines.registry.workspaces import Workspace
from ownlay_pipelines.uploads.formats import quote
from ownlay_pipelines.uploads.kinds import UploadKind
from ownlay_pipelines.uploads.platform_names import canonical_platform_sql

Projection = Callable[[Workspace, str, str, frozenset[str]], str]
"""(workspace, upload id, source name, targets the file or mapping fills) → SELECT list."""


def constant(text: str) -> str:
    """A text that is the same on every row, typed as a one-value ENUM: Parquet stores it as a
    plain string column, but DuckDB writes it as a dictionary of one instead of hashing the same
    string on every row (that was a third of the time of writing a large load)."""
    return f"CAST({quote(text)} AS ENUM({quote(text)}))"


def _provenance(upload_id: str, source_name: str) -> str:
    return (
        f"{constant(upload_id)} AS upload_id, {constant(source_name)} AS source_name, "
        "CAST(_line AS BIGINT) AS source_line"
    )


def _slug(value: str) -> str:
    """`lower_snake` of a trimmed text; a plain word (the usual network name) skips the
    regular-expression replace."""
    general = f"NULLIF(trim(regexp_replace(lower(trim({value})), '[^a-z0-9]+', '_', 'g'), '_'), '')"
    return f"CASE WHEN regexp_full_match({value}, '[A-Za-z0-9]+') THEN lower({value}) ELSE {general} END"


def _platform(value: str) -> str:
    """The stored platform of a file's platform value (or the mapping's default): its slug, a
    connector's own slug when it names one (`platform_names`), `upload` when empty."""
    return f"COALESCE({canonical_platform_sql(_slug(value))}, 'upload')"


def costs_projection(
    workspace: Workspace, upload_id: str, source_name: str, filled: frozenset[str]
) -> str:
    """Campaign-day columns, then platform and provenance. `v_platform` is the file's value
    through `_platform` already (`VALUE_TRANSFORMS`)."""
    upload = constant("upload")
    account = f"COALESCE(v_account_id, {upload})" if "account_id" in filled else upload
    platform = "v_platform" if "platform" in filled else upload
    # With one of the two, both columns are that one as it is (a dictionary stays an ENUM).
    if {"campaign_id", "campaign_name"} <= filled:
        campaign_id = "COALESCE(v_campaign_id, v_campaign_name)"
        campaign_name = "COALESCE(v_campaign_name, v_campaign_id)"
    else:
        campaign_id = campaign_name = (
            "v_campaign_id" if "campaign_id" in filled else "v_campaign_name"
        )
    return f"""
        {constant(workspace.id)} AS workspace_id,
        {account} AS account_id,
        {campaign_id} AS campaign_id,
        {campaign_name} AS campaign_name,
        v_report_date AS report_date,
        {constant(workspace.timezone)} AS account_timezone,
        v_currency_code AS currency,
        CAST(v_impressions AS BIGINT) AS impressions,
        CAST(v_clicks AS BIGINT) AS clicks,
        CAST(v_spend AS DECIMAL(20, 6)) AS spend,
        CAST(v_conversions AS DECIMAL(20, 6)) AS conversions,
        CAST(v_conversion_value AS DECIMAL(20, 6)) AS conversion_value,
        {platform} AS platform,
        {_provenance(upload_id, source_name)}
    """


def orders_projection(
    workspace: Workspace, upload_id: str, source_name: str, filled: frozenset[str]
) -> str:
    """Order id, order day, total and currency, hashed e-mail, UTM source and campaign, then the
    store's order name (`#1001`), status as exported (`paid`, `refunded`), cancellation time and
    refunded amount (in `currency`) when the file has them."""
    return f"""
        {constant(workspace.id)} AS workspace_id,
        v_order_id AS order_id,
        v_order_date AS order_date,
        CAST(v_total AS DECIMAL(20, 6)) AS total,
        v_currency_code AS currency,
        CAST(v_customer_email AS VARCHAR) AS customer_email_hash,
        v_utm_source AS utm_source,
        v_utm_campaign AS utm_campaign,
        v_order_name AS order_name,
        v_status AS status,
        CAST(v_cancelled_at AS TIMESTAMPTZ) AS cancelled_at,
        CAST(v_refunded_amount AS DECIMAL(20, 6)) AS refunded_amount,
        {_provenance(upload_id, source_name)}
    """


def events_projection(
    workspace: Workspace, upload_id: str, source_name: str, filled: frozenset[str]
) -> str:
    """Event instant and local day, type, identities (e-mail hashed), order, revenue, UTMs."""
    return f"""
        {constant(workspace.id)} AS workspace_id,
        CAST(v_occurred_at AS TIMESTAMPTZ) AS occurred_at,
        CAST(v_occurred_at AS DATE) AS event_date,
        lower(v_event_type) AS event_type,
        v_anonymous_id AS anonymous_id,
        v_user_id AS user_id,
        v_order_id AS order_id,
        CAST(v_revenue AS DECIMAL(20, 6)) AS revenue,
        v_currency_code AS currency,
        CAST(v_email AS VARCHAR) AS email_hash,
        v_utm_source AS utm_source,
        v_utm_medium AS utm_medium,
        v_utm_campaign AS utm_campaign,
        {_provenance(upload_id, source_name)}
    """


VALUE_TRANSFORMS: dict[UploadKind, dict[str, Callable[[str], str]]] = {
    UploadKind.COSTS: {"platform": _platform},
}
"""Output values that depend on one text value only (SQL of it): the load computes them once per
distinct value of a dictionary column, else on every row, into `v_<target>`."""


def dictionary_targets(kind: UploadKind, filled: frozenset[str]) -> frozenset[str]:
    """Text targets the projection writes as they are or through `VALUE_TRANSFORMS`, so they can
    be dictionaries: costs' platform, and the campaign id or name when the file has only one
    (both are COALESCEd into each other, which would make them text again)."""
    if kind is not UploadKind.COSTS:
        return frozenset()
    campaign = {"campaign_id", "campaign_name"} & filled
    return frozenset({"platform", *(campaign if len(campaign) == 1 else ())})


PROJECTIONS: dict[UploadKind, Projection] = {
    UploadKind.COSTS: costs_projection,
    UploadKind.ORDERS: orders_projection,
    UploadKind.EVENTS: events_projection,
}
