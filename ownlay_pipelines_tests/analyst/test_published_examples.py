"""`ownlay attribution paths` on worked examples published by others, against their figures.

Each example is written as the path file an analyst would write and run through the command
line. Where the published tool follows another convention than reference/analytics.md §1.4–1.5
(which ours follows), the test says which and checks the figure the convention implies.
"""

from __future__ import annotations

import json

import pytest

from ownlay_pipelines.analyst.markov_chain import chain_transitions
from ownlay_pipelines.analyst.path_data import read_path_file
from ownlay_pipelines_tests.analyst.test_cli_paths import ownlay


def _run(capsys, tmp_path, text: str, model: str) -> dict[str, dict]:
    file = tmp_path / "paths.csv"
    file.write_text(text, encoding="utf-8")
    status, out, err = ownlay(capsys, "attribution", "paths", str(file), "--model", model, "--json")
    assert (status, err) == (0, "")
    return {row["channel"]: row for row in json.loads(out)}


# Sergey Bryl', "Marketing Multi-Channel Attribution model with R (part 1: Markov chains
# concept)", http://analyzecore.com/2016/08/03/attribution-model-r-part-1/ — the paths
# c1 > c2 > c3 (converts), c1 and c2 > c3 (do not), run through ChannelAttribution::markov_model
# with out_more = TRUE. Its printout (a public R session of the post's code): removal effects
# c1 0.497335, c2 1, c3 1; total_conversions c1 0.1991463, c2 0.4004269, c3 0.4004269.
# ChannelAttribution estimates by simulation; the exact chain gives 0.5, 1, 1 and 0.2, 0.4, 0.4.
ANALYZECORE = """path;total_conversions;total_conversion_value;total_null
c1 > c2 > c3;1;1;0
c1;0;0;1
c2 > c3;0;0;1
"""
CHANNELATTRIBUTION_PRINTOUT = {
    "c1": (0.497335, 0.1991463),
    "c2": (1.0, 0.4004269),
    "c3": (1.0, 0.4004269),
}


def test_analyzecore_three_channel_example_matches_channelattribution(capsys, tmp_path):
    rows = _run(capsys, tmp_path, ANALYZECORE, "markov")
    assert set(rows) == set(CHANNELATTRIBUTION_PRINTOUT)
    for channel, (effect, conversions) in CHANNELATTRIBUTION_PRINTOUT.items():
        # within ChannelAttribution's simulation noise of the published figures …
        assert rows[channel]["removal_effect"] == pytest.approx(effect, abs=0.005)
        assert rows[channel]["conversions"] == pytest.approx(conversions, abs=0.002)
    # … and exactly the closed form: P = 1/3, P without c1 = 1/6.
    exact = {"c1": (0.5, 0.2), "c2": (1.0, 0.4), "c3": (1.0, 0.4)}
    for channel, (effect, conversions) in exact.items():
        assert rows[channel]["removal_effect"] == pytest.approx(effect, abs=1e-12)
        assert rows[channel]["conversions"] == pytest.approx(conversions, abs=1e-12)


# Serhii Puzyrov, "Markov Chain Attribution – Simple Explanation Of Removal Effect",
# https://serhiipuzyrov.com/2019/07/markov-chain-attribution-simple-explanation-of-removal-effect/
# — google ads alone converts twice, mailing once, google ads > mailing once, and one google ads
# visitor does not convert. The post publishes the transition table: start → google ads 4/5,
# start → mailing 1/5, google ads → conv 2/4, → mailing 1/4, → null 1/4, mailing → conv 2/2.
# From it: P = 0.8·(0.5 + 0.25) + 0.2 = 0.8; without google ads 0.2 (RE 0.75), without
# mailing 0.4 (RE 0.5); 4 conversions split 0.75 : 0.5 → 2.4 and 1.6.
PUZYROV = """path;total_conversions;total_conversion_value;total_null
google ads;2;2;0
mailing;1;1;0
google ads > mailing;1;1;0
google ads;0;0;1
"""


def test_puzyrov_transition_table_and_removal_effects(capsys, tmp_path):
    file = tmp_path / "puzyrov.csv"
    file.write_text(PUZYROV, encoding="utf-8")
    paths = read_path_file(file)
    chain = chain_transitions(paths)
    google, mailing = (paths.channels.index(c) for c in ("google ads", "mailing"))
    start_total = chain.from_start.sum()
    assert chain.from_start[[google, mailing]] / start_total == pytest.approx([4 / 5, 1 / 5])
    assert (chain.source.tolist(), chain.target.tolist()) == ([google], [mailing])
    assert chain.weight[0] / chain.leaving[google] == pytest.approx(1 / 4)
    assert chain.to_conversion[[google, mailing]] / chain.leaving[[google, mailing]] == (
        pytest.approx([2 / 4, 2 / 2])
    )
    assert (start_total, *chain.leaving[[google, mailing]]) == (5, 4, 2)

    rows = _run(capsys, tmp_path, PUZYROV, "markov")
    assert rows["google ads"]["removal_effect"] == pytest.approx(0.75)
    assert rows["mailing"]["removal_effect"] == pytest.approx(0.5)
    assert rows["google ads"]["conversions"] == pytest.approx(2.4)
    assert rows["mailing"]["conversions"] == pytest.approx(1.6)


# The three-channel Shapley example (Facebook, Google, LinkedIn) whose characteristic function
# is the cumulative game of reference/analytics.md §1.5 variant 1: v(S) = Σ over T ⊆ S of r(T),
# r(T) the conversion ratio of journeys whose channel set is exactly T; published with its
# result Facebook 0.450, Google 0.215, LinkedIn 0.335, e.g. in
# https://github.com/YashKothane/Final-Project-8th-sem/blob/main/Shapley%20Value.ipynb
# (the r(T) are fractions, which the path file's counts may be).
SHAPLEY_THREE_CHANNELS = """path;total_conversions;total_conversion_value;total_null
Facebook;0.18;18;0
Google;0.04;4;0
LinkedIn;0.08;8;0
Facebook > Google;0.10;10;0
Facebook > LinkedIn;0.26;26;0
Google > LinkedIn;0.07;7;0
Facebook > Google > LinkedIn;0.27;27;0
"""


def test_published_three_channel_shapley_example(capsys, tmp_path):
    rows = _run(capsys, tmp_path, SHAPLEY_THREE_CHANNELS, "shapley")
    published = {"Facebook": 0.450, "Google": 0.215, "LinkedIn": 0.335}
    for channel, value in published.items():
        assert rows[channel]["conversions"] == pytest.approx(value, abs=1e-12)
        assert rows[channel]["value"] == pytest.approx(100 * value, abs=1e-9)
    # The order inside a path plays no part in this game: reversed paths give the same credits.
    reversed_paths = "\n".join(
        " > ".join(reversed(line.split(";")[0].split(" > "))) + ";" + line.split(";", 1)[1]
        for line in SHAPLEY_THREE_CHANNELS.splitlines()[1:]
    )
    again = _run(capsys, tmp_path, reversed_paths + "\n", "shapley")
    assert {c: r["conversions"] for c, r in again.items()} == pytest.approx(published)
