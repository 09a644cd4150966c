"""Several uvicorn worker processes, each accepting connections on its own `SO_REUSEPORT` socket.

uvicorn's own multi-worker mode hands every worker the one listening socket the parent bound, and
whichever worker's event loop wakes first accepts every connection waiting (asyncio takes up to
100 per wake). Clients that keep their connections open — a load balancer's pool, a tracking
proxy, wrk's 32 — therefore all land on one worker while the others idle: measured, 98 % of the
requests of a 2-worker service went to one process (bench/README.md, Ingestion). Here each worker
binds a socket of its own with `SO_REUSEPORT`, and the kernel spreads new connections over the
listening workers by a hash of their addresses.

The supervisor (`run_workers`) keeps one bound, never-listening socket so that every worker binds
the same port (port 0 included), restarts a worker that dies, and on SIGINT or SIGTERM stops them
all with SIGTERM: each finishes its requests and commits its queued events (uvicorn's graceful
shutdown) before exiting.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import uvicorn

logger = logging.getLogger("uvicorn.error")
"""uvicorn's own logger of server events, configured as the workers' is."""
SHUTDOWN_SECONDS = 30.0
"""How long a worker gets to finish its requests and commit after SIGTERM before it is killed."""
_PR_SET_PDEATHSIG = 1
STARTUP_FAILURE = 3
"""A worker's exit code when it never served (uvicorn's own code for a failed startup)."""


@dataclass(frozen=True)
class WorkerConfig:
    """What each worker process serves: `app_factory()` builds the ASGI app in the worker (it is
    pickled to the worker, so a module-level function or a `functools.partial` of one), on
    `host`:`port`, with the other keyword arguments of its `uvicorn.Config`."""

    app_factory: Callable[[], Any]
    host: str
    port: int
    uvicorn_options: dict[str, Any]


class WorkerStartupFailed(RuntimeError):
    """A worker could not start serving (its app or socket failed): starting another would fail
    the same way, so the service stops."""


def run_workers(count: int, config: WorkerConfig) -> None:
    """Serve with `count` worker processes until SIGINT or SIGTERM, restarting any that dies
    while serving; raises `WorkerStartupFailed` (after stopping the others) when one could not
    start."""
    # A Config configures this process's logging as uvicorn's: the supervisor logs like a worker.
    uvicorn.Config(config.app_factory, **config.uvicorn_options)
    with _reserved_port(config.host, config.port) as port:
        config = WorkerConfig(config.app_factory, config.host, port, config.uvicorn_options)
        stopping = threading.Event()
        previous = {
            sig: signal.signal(sig, lambda *_: stopping.set())
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        spawn = multiprocessing.get_context("spawn")
        workers = [_start(spawn, config) for _ in range(count)]
        announced = False
        try:
            while not stopping.wait(0.5):
                if not announced and listening_sockets(port) >= count:
                    logger.info("%d ingest workers listen on %s:%d", count, config.host, port)
                    announced = True
                for number, worker in enumerate(workers):
                    if worker.is_alive() or stopping.is_set():
                        continue
                    if worker.exitcode == STARTUP_FAILURE:
                        raise WorkerStartupFailed(
                            f"ingest worker {worker.pid} could not start; see its error above"
                        )
                    logger.warning(
                        "ingest worker %s exited with %s; starting another",
                        worker.pid,
                        worker.exitcode,
                    )
                    workers[number] = _start(spawn, config)
        finally:
            _stop(workers)
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def listening_sockets(port: int) -> int:
    """How many sockets of this network namespace listen on TCP `port` (one per ready worker):
    Linux's /proc/net/tcp{,6}, where state 0A is LISTEN."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rpartition(":")[2], 16) == port:
                    count += 1
    return count


def _start(spawn: Any, config: WorkerConfig) -> BaseProcess:
    worker = spawn.Process(target=_serve_worker, args=(config,), name="ownlay-ingest-worker")
    worker.start()
    return worker


def _stop(workers: list[BaseProcess]) -> None:
    for worker in workers:
        if worker.is_alive():
            worker.terminate()  # SIGTERM: uvicorn's graceful shutdown
    for worker in workers:
        worker.join(SHUTDOWN_SECONDS)
        if worker.is_alive():
            worker.kill()
            worker.join()


@contextmanager
def _reserved_port(host: str, port: int) -> Iterator[int]:
    """A bound, never-listening `SO_REUSEPORT` socket holding the port for the workers (it takes
    no connections: the kernel spreads them over listening sockets only); yields its port."""
    with _reuse_port_socket(host, port) as sock:
        yield sock.getsockname()[1]


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _serve_worker(config: WorkerConfig) -> None:
    """One worker process: its own listening socket, the app built here, uvicorn serving it;
    exits with `STARTUP_FAILURE` when it never got to serve."""
    _exit_with_parent()
    try:
        sock = _reuse_port_socket(config.host, config.port)
        app = config.app_factory()
    except Exception:
        logger.exception("ingest worker could not start")
        sys.exit(STARTUP_FAILURE)
    server = uvicorn.Server(
        uvicorn.Config(app, host=config.host, port=config.port, **config.uvicorn_options)
    )
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)  # uvicorn logged why (the app's startup failed)


def _exit_with_parent() -> None:
    """Ask Linux to send this worker SIGTERM if the supervisor dies (even by SIGKILL), so no
    orphaned worker keeps serving — and holding buffer segments — after it."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return  # not Linux: the supervisor's own shutdown is all there is
    prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
