"""The attribution models that credit channels from aggregated paths, by name."""

from __future__ import annotations

from collections.abc import Callable

from ownlay_pipelines.analyst.heuristic_models import first_touch, last_touch, linear
from ownlay_pipelines.analyst.markov import markov_attribution
from ownlay_pipelines.analyst.path_data import ChannelCredit, PathCounts
from ownlay_pipelines.analyst.shapley import shapley_attribution

PATH_MODELS: dict[str, Callable[[PathCounts], list[ChannelCredit]]] = {
    "first": first_touch,
    "last": last_touch,
    "linear": linear,
    "markov": lambda paths: markov_attribution(paths).credits,
    "shapley": shapley_attribution,
}
"""Model name → credits per channel; markov credits also carry the removal effect."""
