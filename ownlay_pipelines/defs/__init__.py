"""Dagster wiring: assets, checks, jobs, schedules, sensors and resources. Thin by design."""
