"""Session-wide test settings that must be in place before any Dagster definitions load, the
scratch directory of the tests that run the whole demo, and the order that puts slow tests first."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests use fixed dates in 2026 (sandbox clocks such as 2026-11-20); pinning the first dated
# partition keeps those days valid whatever day the suite runs on.
os.environ.setdefault("OWNLAY_HISTORY_START", "2026-01-05")

MEMORY_FILESYSTEM = Path("/dev/shm")
"""Linux's tmpfs, present on developer machines and CI runners alike."""
MEMORY_FILESYSTEM_MIN_FREE_BYTES = 1 << 30
"""A demo writes ~50 MB; containers often cap /dev/shm at 64 MB, so below 1 GiB free the test
stays on disk."""


@pytest.fixture
def demo_project_dir(tmp_path: Path) -> Iterator[Path]:
    """An empty project directory for a test that runs `ownlay demo` in it: on tmpfs when the
    machine has one with room, else `tmp_path`; removed afterwards.

    The demo's Dagster instance (`.dagster_home/`, SQLite) commits and closes its database for
    every one of its ~500 events per run; on a disk shared with other work those syncs are about
    half of the demo's time, and where the files live is not what these tests check.
    """
    if not _memory_filesystem_has_room():
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="ownlay-demo-test-", dir=MEMORY_FILESYSTEM))
    try:
        yield path
    finally:
        shutil.rmtree(path)


def _memory_filesystem_has_room() -> bool:
    if not (MEMORY_FILESYSTEM.is_dir() and os.access(MEMORY_FILESYSTEM, os.W_OK)):
        return False
    return shutil.disk_usage(MEMORY_FILESYSTEM).free >= MEMORY_FILESYSTEM_MIN_FREE_BYTES


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the files with `slow` tests first (stable otherwise): `make test` hands whole files to
    parallel workers in collection order (`--no-loadscope-reorder`: xdist would otherwise put
    the files with the most tests first), and a minutes-long file handed out last keeps one
    worker busy while the other has nothing left to do."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)
