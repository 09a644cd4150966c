"""When things run: tier × cadence, tick plans, backfill chunks and failure alerts, in plain Python."""
