"""The registry file, parsed once per version of the file rather than once per sensor tick.

A version is (path, mtime in ns, size): an in-place edit changes the mtime (and usually the size),
so the next `load_registry_cached` re-reads it, while an unchanged file costs one `stat`. A save
within the same nanosecond tick that keeps the size is the one edit this cannot see; editors and
`os.replace` always change the mtime.
"""

import threading
from pathlib import Path

from ownlay_pipelines.registry.workspaces import Registry, RegistryError, load_registry

_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[int, int], Registry]] = {}


def _version(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise RegistryError(f"registry file {path} does not exist") from exc
    return stat.st_mtime_ns, stat.st_size


def load_registry_cached(path: Path) -> Registry:
    """The validated registry at `path`, re-read only when the file changed since the last call."""
    version = _version(path)
    with _lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == version:
            return cached[1]
    registry = load_registry(path)
    with _lock:
        _cache[path] = (version, registry)
    return registry
