from ownlay_pipelines.lake.catalog_descriptions import catalog_descriptions
from ownlay_pipelines.lake.tables import TableRef

ASSETS = {
    ("raw", "meta_ads", "insights"): "One row per ad account,\n  campaign and day.",
    ("raw", "uploads", "orders"): "Rows of uploaded orders files.",
    ("marts", "roas_daily"): "ROAS per day.",
    ("warehouse", "duckdb", "catalog"): "The analysts' DuckDB file.",
    ("marts", "undescribed"): None,
}


def test_views_take_their_asset_description_and_quarantine_its_raw_tables():
    tables = [
        TableRef.of("raw", "meta_ads", "insights"),
        TableRef.of("quarantine", "meta_ads", "insights"),
        TableRef.of("marts", "roas_daily"),
        TableRef.of("marts", "undescribed"),
        TableRef.of("quarantine", "tiktok_ads", "insights"),
        TableRef.of("quarantine", "uploads", "orders"),
    ]

    described = catalog_descriptions(ASSETS, tables)

    assert described["raw/meta_ads/insights"] == "One row per ad account, campaign and day."
    assert described["marts/roas_daily"] == "ROAS per day."
    assert described["quarantine/meta_ads/insights"].startswith(
        "Records of raw/meta_ads/insights its normaliser refused, one row each"
    )
    assert described["quarantine/uploads/orders"].startswith(
        "Rows of uploaded files loaded into raw/uploads/orders that could not be read"
    )
    assert "personal data hashed, removed or masked" in described["quarantine/uploads/orders"]
    for orphan in ("marts/undescribed", "quarantine/tiktok_ads/insights"):
        assert described[orphan].startswith(f"Lake table {orphan}; no pipeline asset writes it")
    assert set(described) == {str(t) for t in tables}
