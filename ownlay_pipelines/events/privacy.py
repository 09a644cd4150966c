"""Moved to `ownlay_pipelines.privacy` (ARCHITECTURE.md §8: privacy classes in one place).

Kept as re-exports so modules outside the ingest area (lake rows, the sandbox event lake, the demo)
keep importing while their owners switch to `ownlay_pipelines.privacy.*`.
"""

from ownlay_pipelines.privacy.keyed_hash import PII_HASH_KEY_ENV, PiiHasher, PiiKeyMissing
from ownlay_pipelines.privacy.properties import drop_sensitive_properties
from ownlay_pipelines.privacy.urls import is_sensitive_name, strip_sensitive_url

__all__ = [
    "PII_HASH_KEY_ENV",
    "PiiHasher",
    "PiiKeyMissing",
    "drop_sensitive_properties",
    "is_sensitive_name",
    "strip_sensitive_url",
]
