"""Data lifecycle: retention per data type (`retention`), GDPR access and deletion (`gdpr`),
and export to a customer's warehouse (`export`). Plain Python; defs/lifecycle.py wires Dagster."""
