"""Session-wide test settings that must be in place before any Dagster definitions load."""

import os

# Tests use fixed dates in 2026 (sandbox clocks such as 2026-11-20); pinning the first dated
# partition keeps those days valid whatever day the suite runs on.
os.environ.setdefault("OWNLAY_HISTORY_START", "2026-01-05")
