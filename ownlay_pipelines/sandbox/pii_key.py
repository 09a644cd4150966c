"""The sandbox's own PII hashing key, kept in a file beside (never inside) the lake.

Real deployments set `OWNLAY_PII_HASH_KEY`; `ownlay demo` creates this file once (owner-readable
only) so re-running hashes the same visitor the same way, and `ownlay serve` in sandbox mode falls
back to it.
"""

from __future__ import annotations

import secrets
from pathlib import Path

KEY_FILE_NAME = "sandbox_pii_hash_key"


def key_file(data_dir: Path) -> Path:
    """Where the sandbox key lives for the data directory `data_dir`."""
    return data_dir / KEY_FILE_NAME


def ensure_key(data_dir: Path) -> str:
    """The sandbox key (hex), created with 32 random bytes on first use."""
    path = key_file(data_dir)
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
