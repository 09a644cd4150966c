"""OWNLAY Pipelines: marketing data a team owns, from platform APIs to a DuckDB warehouse."""
