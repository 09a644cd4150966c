"""Running the ingestion service with uvicorn: `serve(...)`, for the CLI's `ownlay serve`."""

from __future__ import annotations

import argparse

import uvicorn

from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.config import IngestSettings


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    settings: IngestSettings | None = None,
    forwarded_allow_ips: str = "127.0.0.1",
    log_level: str = "info",
) -> None:
    """Serve the ingestion API until interrupted; settings default to the environment.

    One worker process on purpose: the buffer has one group-commit writer, and a single uvicorn
    worker handled ~14k single-event requests/s here (reference/perf_reliability.md §3.5). The
    access log is off because request lines would carry client IPs (§4.6); X-Forwarded-For is
    trusted only from `forwarded_allow_ips`, so the recorded (hashed) IP is the visitor's.
    """
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        log_level=log_level,
    )


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
