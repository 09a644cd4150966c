"""The throughput anchor: a minimal FastAPI app that parses the JSON body and appends to a list.

No validation, no hashing, no durability: the ceiling of one uvicorn worker on this machine, run
beside the real service with the same load generator. Serve with
`uvicorn --factory --app-dir bench/ingest list_app:create_app`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request


def create_app() -> FastAPI:
    """An app keeping every posted event in memory."""
    app = FastAPI()
    events: list[Any] = []

    @app.post("/api/v1/events", status_code=202)
    async def ingest(request: Request) -> dict[str, int]:
        body = await request.json()
        items = body if isinstance(body, list) else [body]
        events.extend(items)
        return {"accepted": len(items)}

    return app
