"""The Conversions APIs this project forwards to (kept import-light: the registry uses it)."""

from __future__ import annotations

from enum import StrEnum


class CapiPlatform(StrEnum):
    """A Conversions API destination's platform."""

    META = "meta"
    GOOGLE = "google"
    TIKTOK = "tiktok"
    SNAPCHAT = "snapchat"
