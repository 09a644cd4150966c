"""The naive reference: same validation, but one DuckDB INSERT (one transaction) per event.

This is the design ARCHITECTURE.md §7 rules out; the benchmark runs it beside the real service so
the gap is measured on the same machine in the same run. Serve with
`uvicorn --factory --app-dir bench/ingest naive_duckdb_app:create_app`.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import duckdb
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ownlay_pipelines.events.model import EventValidationContext, OwnlayEvent, TimestampPolicy


def create_app() -> FastAPI:
    """An app storing each valid event with its own auto-committed DuckDB INSERT."""
    connection = duckdb.connect(os.environ["OWNLAY_BENCH_DUCKDB"])
    connection.execute(
        "CREATE TABLE IF NOT EXISTS events (event_id VARCHAR PRIMARY KEY, event_type VARCHAR, "
        "created_at TIMESTAMPTZ, body VARCHAR)"
    )
    api_key = os.environ["OWNLAY_BENCH_KEY"]
    app = FastAPI()

    @app.post("/api/v1/events", status_code=202)
    async def ingest(request: Request) -> JSONResponse:
        if request.headers.get("x-ownlay-api-key") != api_key:
            return JSONResponse({"error": "invalid_api_key"}, status_code=401)
        document = json.loads(await request.body())
        items = document if isinstance(document, list) else [document]
        context = EventValidationContext(now=datetime.now(UTC), policy=TimestampPolicy())
        for item in items:
            event = OwnlayEvent.model_validate(item, context=context)
            connection.execute(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?)",
                [str(event.event_id), event.event_type.value, event.timestamp, json.dumps(item)],
            )
        return JSONResponse({"accepted": len(items)}, status_code=202)

    return app
