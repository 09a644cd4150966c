"""Fixtures shared by the http tests."""

from __future__ import annotations

import pytest

from ownlay_pipelines.http.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at 2026-01-01T00:00:00Z that records every sleep."""
    return FakeClock()
