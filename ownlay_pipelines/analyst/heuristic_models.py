"""First-touch, last-touch and linear credit over aggregated paths (reference/analytics.md §1.3).

Definitions as ChannelAttribution's `heuristic_models`: a path's conversions and value go wholly
to its first (or last) touch, or 1/n to each of its n touches (a channel touched m times gets m/n).
"""

from __future__ import annotations

import numpy as np

from ownlay_pipelines.analyst.path_data import ChannelCredit, PathCounts, channel_credits


def _by_touch(paths: PathCounts, touch_index: np.ndarray, share: np.ndarray) -> list[ChannelCredit]:
    """Credit `share` of each touch's path to the channel of the touch at `touch_index`."""
    channels = paths.touches[touch_index]
    path = paths.path_of_touch[touch_index]
    size = len(paths.channels)
    conversions = np.bincount(channels, weights=paths.conversions[path] * share, minlength=size)
    value = np.bincount(channels, weights=paths.value[path] * share, minlength=size)
    return channel_credits(paths, conversions, value)


def first_touch(paths: PathCounts) -> list[ChannelCredit]:
    """All of a path's conversions and value to its first touch."""
    first = paths.offsets[:-1]
    return _by_touch(paths, first, np.ones(len(first)))


def last_touch(paths: PathCounts) -> list[ChannelCredit]:
    """All of a path's conversions and value to its last touch."""
    last = paths.offsets[1:] - 1
    return _by_touch(paths, last, np.ones(len(last)))


def linear(paths: PathCounts) -> list[ChannelCredit]:
    """1/n of a path's conversions and value to each of its n touches."""
    every = np.arange(len(paths.touches))
    return _by_touch(paths, every, 1.0 / paths.lengths[paths.path_of_touch])
