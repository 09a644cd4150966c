"""Shapley attribution, simplified: the distinct-channel-set game (reference/analytics.md §1.5,
variant 1, as Ads Data Hub's touchpoint analysis).

Worth of a coalition S: v(S) = Σ over T ⊆ S of r(T), r(T) being the conversions (or value) of
paths whose set of distinct channels is exactly T. That game is a weighted sum of unanimity
games, so by linearity each channel's Shapley value has the closed form φᵢ = Σ over T ∋ i of
r(T) / |T| — every path's conversions split equally over its distinct channels. No 2ⁿ
enumeration, and the credits sum to the total conversions and value.
"""

from __future__ import annotations

import numpy as np

from ownlay_pipelines.analyst.path_data import ChannelCredit, PathCounts, channel_credits


def shapley_attribution(paths: PathCounts) -> list[ChannelCredit]:
    """Each path's conversions and value split equally over its distinct channels."""
    size = len(paths.channels)
    # Distinct (path, channel) pairs: sort and keep first occurrences (np.unique is the same
    # thing, but numpy 2.4 takes ~40 s on 7M keys here against 0.5 s for a plain sort).
    keys = np.sort(paths.path_of_touch * size + paths.touches)
    pairs = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    path, channel = np.divmod(pairs, size)
    distinct = np.bincount(path, minlength=paths.path_count)
    share = 1.0 / distinct[path]
    conversions = np.bincount(channel, weights=paths.conversions[path] * share, minlength=size)
    value = np.bincount(channel, weights=paths.value[path] * share, minlength=size)
    return channel_credits(paths, conversions, value)
