"""The watchtower: ops-store tables, rules over the ops store and the warehouse, alert state and
notifications. Plain Python and SQL; the Dagster layer wires it in as asset checks."""
