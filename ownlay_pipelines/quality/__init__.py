"""Data-quality rules over lake tables (seed 000 "Data Quality"), as plain functions.

Each returns a `CheckOutcome`; `defs/checks/` turns them into Dagster asset checks.
"""
