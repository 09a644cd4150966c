"""Running the ingestion service with uvicorn: `serve(...)` for `ownlay serve`, and in the
background for the demo and end-to-end tests."""

from __future__ import annotations

import argparse
import functools
import gc
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from ownlay_pipelines.capi.tables import create_capi_schema
from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.buffer import connect_buffer
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.http_protocol import CoalescingHttpToolsProtocol
from ownlay_pipelines.ingest.keys import open_key_store
from ownlay_pipelines.ingest.webhook_store import connect_webhook_store
from ownlay_pipelines.ingest.workers import WorkerConfig, WorkerStartupFailed, run_workers
from ownlay_pipelines.lifecycle.ops_tables import create_lifecycle_tables


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    settings: IngestSettings | None = None,
    forwarded_allow_ips: str = "127.0.0.1",
    log_level: str = "info",
) -> None:
    """Serve the ingestion API until interrupted; settings default to the environment.

    With `settings.workers` > 1 (`OWNLAY_INGEST_WORKERS`) that many worker processes serve,
    each on its own `SO_REUSEPORT` socket (`workers.py`: uvicorn's own worker mode lets one worker
    take every kept-alive connection) and each building its app from the environment: each has
    its own group-commit writer on the same buffer file, where the writers take turns to commit
    (`group_commit.py`), so an event is still acknowledged only once durable, and the `event_ids`
    claim inside each commit still refuses a repeat whichever worker got it first (bench/README.md
    has the measured gain). Responses leave in one socket write (`http_protocol.py`). The access
    log is off because request lines would carry client IPs (reference/perf_reliability.md §4.6);
    X-Forwarded-For is trusted only from `forwarded_allow_ips`, so the recorded (hashed) IP is the
    visitor's.
    """
    settings = settings or IngestSettings.from_env()
    options: dict[str, Any] = {
        "http": CoalescingHttpToolsProtocol,
        "access_log": False,
        "proxy_headers": True,
        "forwarded_allow_ips": forwarded_allow_ips,
        "log_level": log_level,
    }
    if settings.workers == 1:
        uvicorn.run(serving_app(settings), host=host, port=port, **options)
        return
    prepare_stores(settings)
    app_factory = functools.partial(serving_app, settings)
    try:
        run_workers(settings.workers, WorkerConfig(app_factory, host, port, options))
    except WorkerStartupFailed as error:
        raise SystemExit(f"error: {error}") from error


def prepare_stores(settings: IngestSettings) -> None:
    """Create every store a worker opens, once, before the workers start, so they only find them.

    Workers starting together on new files race: SQLAlchemy's `create_all` checks, then
    creates, so one of two workers fails with "table ... already exists"; and switching a new
    SQLite file to WAL needs its exclusive lock, which SQLite refuses at once ("database is
    locked", no busy wait) to a second process asking for it, so that worker could not start and
    took the service down with it (seen 1 start in 10 with four workers). Once the parent has
    created the ops-store tables and put the buffer and deliveries files in WAL mode, a worker's
    `journal_mode=WAL` only reads the mode.
    """
    engine = open_key_store(settings.database_url)
    try:
        create_lifecycle_tables(engine)
        create_capi_schema(engine)
    finally:
        engine.dispose()
    connect_buffer(settings.buffer_path).close()
    connect_webhook_store(settings.webhook_deliveries_path).close()


def serving_app(settings: IngestSettings | None = None) -> FastAPI:
    """The app as `serve` runs it, in each worker process (settings default to the environment).

    Everything built until now (modules, the event models' validators, SQLAlchemy metadata)
    lives as long as the process, so it is moved out of the cyclic garbage collector's view
    (`gc.freeze`): otherwise each full collection, every few thousand requests, scans those
    ~100k objects again and stalls every request in flight for tens of milliseconds.
    """
    app = create_app(settings)
    gc.freeze()
    return app


STARTUP_TIMEOUT_SECONDS = 30.0


@contextmanager
def serve_in_background(settings: IngestSettings, host: str = "127.0.0.1") -> Iterator[str]:
    """Run the service on a free loopback port in a thread; yields its base URL, stops on exit.

    The same app and uvicorn server as `serve`, for the demo and end-to-end tests that must send
    events through the real HTTP endpoint.
    """
    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=host,
            port=port,
            http=CoalescingHttpToolsProtocol,
            access_log=False,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, name="ownlay-ingest", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"ingestion service did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_SECONDS)


def main(argv: list[str] | None = None) -> None:
    """`python -m ownlay_pipelines.ingest.server --host 127.0.0.1 --port 8080`."""
    parser = argparse.ArgumentParser(description=serve.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    serve(args.host, args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
