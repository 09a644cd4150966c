"""`ownlay attribution paths FILE --model …`: the path file format, the output, bad lines."""

from __future__ import annotations

import argparse
import json

import pytest

from ownlay_pipelines.analyst.cli import register_cli

PUBLISHED = """path;total_conversions;total_conversion_value;total_null
 C1 > C2 > C3 ; 1 ; 100 ; 0

C1;0;0;1
C2>C3;0;0;1
"""


def ownlay(capsys, *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="ownlay")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    status = args.handler(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def path_file(tmp_path):
    file = tmp_path / "paths.csv"
    file.write_text(PUBLISHED)
    return file


def test_markov_json_lists_channels_with_conversions_value_and_removal_effect(capsys, path_file):
    status, out, err = ownlay(
        capsys, "attribution", "paths", str(path_file), "--model", "markov", "--json"
    )
    assert (status, err) == (0, "")
    rows = {row["channel"]: row for row in json.loads(out)}
    assert set(rows) == {"C1", "C2", "C3"}
    assert rows["C1"] == {
        "channel": "C1",
        "conversions": pytest.approx(0.2),
        "value": pytest.approx(20.0),
        "removal_effect": pytest.approx(0.5),
    }
    assert rows["C2"]["conversions"] == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("model", "c1", "c3"),
    [("first", 1.0, 0.0), ("last", 0.0, 1.0), ("linear", 1 / 3, 1 / 3), ("shapley", 1 / 3, 1 / 3)],
)
def test_each_model_as_json_has_no_removal_effect(capsys, path_file, model, c1, c3):
    status, out, _ = ownlay(
        capsys, "attribution", "paths", str(path_file), "--model", model, "--json"
    )
    rows = {row["channel"]: row for row in json.loads(out)}
    assert status == 0
    assert set(rows["C1"]) == {"channel", "conversions", "value"}
    assert (rows["C1"]["conversions"], rows["C3"]["conversions"]) == (
        pytest.approx(c1),
        pytest.approx(c3),
    )
    assert sum(r["value"] for r in rows.values()) == pytest.approx(100.0)


def test_table_output_has_a_total_line(capsys, path_file):
    status, out, _ = ownlay(capsys, "attribution", "paths", str(path_file), "--model", "markov")
    lines = out.splitlines()
    assert status == 0
    assert lines[0].split() == ["channel", "conversions", "value", "removal_effect"]
    assert lines[-1].split() == ["total", "1.0000", "100.0000"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a>b;1;2\n", "line 1: expected 4 fields"),
        (
            "path;total_conversions;total_conversion_value;total_null\na;1;x;0\n",
            "line 2: total_conversion_value 'x' is not a number",
        ),
        ("a;1;1;0\na>>b;1;1;0\n", "line 2: path 'a>>b' has an empty channel name"),
        ("a;-1;1;0\n", "line 1: total_conversions '-1' must be a finite number ≥ 0"),
        ("a;nan;1;0\n", "line 1: total_conversions 'nan' must be a finite number"),
        ("\n\n", "holds no paths"),
    ],
)
def test_a_bad_line_is_a_clear_error_naming_it(capsys, tmp_path, text, message):
    assert message in _refusal_of(capsys, tmp_path, text, model="last")


def test_a_missing_file_is_a_clear_error(capsys, tmp_path):
    status, _, err = ownlay(
        capsys, "attribution", "paths", str(tmp_path / "nope.csv"), "--model", "last"
    )
    assert status == 2
    assert "cannot read" in err and "nope.csv" in err


# --- messy files an analyst actually has --------------------------------------------------------


def _credits(capsys, tmp_path, content: bytes | str, model: str = "linear") -> dict[str, dict]:
    file = tmp_path / "messy.csv"
    file.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    status, out, err = ownlay(capsys, "attribution", "paths", str(file), "--model", model, "--json")
    assert (status, err) == (0, "")
    return {row["channel"]: row for row in json.loads(out)}


@pytest.mark.parametrize(
    "content",
    [
        # the plain form
        "path;total_conversions;total_conversion_value;total_null\na > b;2;30;1\nb;1;5;0\n",
        # no header, Windows line ends, a BOM (Excel's "CSV UTF-8")
        "\ufeffa > b;2;30;1\r\nb;1;5;0\r\n",
        # spaces around '>' and ';', blank lines, tabs
        "\n\n path ; total_conversions;total_conversion_value ; total_null \n\n"
        "a>   b\t;  2 ; 30 ;1\n   \n b ;1;5;0\n\n",
        # R's write.csv2 / write.table(sep=";") quotes every text field, the header too
        '"path";"total_conversions";"total_conversion_value";"total_null"\n"a > b";2;30;1\n"b";1;5;0\n',
        # one path over two lines is summed
        "a > b;1;10;1\nb;1;5;0\na>b;1;20;0\n",
    ],
    ids=["plain", "bom-crlf-no-header", "spaces-blank-lines", "r-quoted", "repeated-path"],
)
def test_a_messy_but_valid_file_reads_as_the_plain_one(capsys, tmp_path, content):
    rows = _credits(capsys, tmp_path, content)
    assert {name: (r["conversions"], r["value"]) for name, r in rows.items()} == {
        "a": pytest.approx((1.0, 15.0)),
        "b": pytest.approx((2.0, 20.0)),
    }


@pytest.mark.parametrize(
    ("content", "conversions", "value"),
    [
        ("a;1;10,5;0\n", 1.0, 10.5),
        ("a;0,5;0,25;2\n", 0.5, 0.25),
        ("a;1;,5;0\n", 1.0, 0.5),
        ("a;1;1,5e+03;0\n", 1.0, 1500.0),  # R's write.csv2 writes large numbers so
        ("a;1;0,125;0\n", 1.0, 0.125),  # a leading 0 is no thousands group
        ("a;1;1234,567;0\n", 1.0, 1234.567),  # nor are four digits before the comma
        ("a;1;12,3456;0\n", 1.0, 12.3456),
        # R's write.csv2: quoted text, decimal commas, Windows line ends
        (
            '"path";"total_conversions";"total_conversion_value";"total_null"\r\n'
            '"a";1;10,5;0\r\n"a";1;0,25;3\r\n',
            2.0,
            10.75,
        ),
    ],
)
def test_a_decimal_comma_reads_as_a_decimal_point(capsys, tmp_path, content, conversions, value):
    """In a ';'-separated file a ',' separates no fields, so '10,5' can only be 10.5."""
    (row,) = _credits(capsys, tmp_path, content, "last").values()
    assert (row["conversions"], row["value"]) == (conversions, value)


def test_a_repeated_channel_counts_per_touch_in_linear_and_once_in_shapley(capsys, tmp_path):
    """ChannelAttribution's linear credits a touch, so a > a > b gives a 2/3; the simplified
    Shapley game plays distinct channels, so a and b get 1/2 each; Markov drops the self-loop."""
    content = "a > a > b;3;30;0\n"
    assert _credits(capsys, tmp_path, content, "linear")["a"]["conversions"] == pytest.approx(2)
    assert _credits(capsys, tmp_path, content, "shapley")["a"]["conversions"] == pytest.approx(1.5)
    markov = _credits(capsys, tmp_path, content, "markov")
    assert markov["a"]["removal_effect"] == markov["b"]["removal_effect"] == pytest.approx(1.0)


def test_zero_conversions_and_zero_nulls_credit_nothing_and_fail_nothing(capsys, tmp_path):
    rows = _credits(capsys, tmp_path, "a > b;0;0;0\nc;0;0;4\n", "markov")
    assert set(rows) == {"a", "b", "c"}
    assert all(r["conversions"] == r["value"] == r["removal_effect"] == 0 for r in rows.values())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (";1;10;0\n", "line 1: the path is empty"),
        ("a;1;1,000.50;0\n", "line 1: total_conversion_value '1,000.50' is not a number: use"),
        ("a;1;1.234,5;0\n", "total_conversion_value '1.234,5' is not a number: use '.' or ','"),
        ("a;1;1,234,567;0\n", "total_conversion_value '1,234,567' is not a number: use '.' or"),
        ("a;1;1 000;0\n", "total_conversion_value '1 000' is not a number: use '.' or ','"),
        # 1 with a decimal comma, 1000 with a thousands separator: neither is guessed
        ("a;1;1,000;0\n", "line 1: total_conversion_value '1,000' is ambiguous: ',' could be"),
        ("a;1;0;0\nb;12,345;0;0\n", "line 2: total_conversions '12,345' is ambiguous"),
        # float() reads these as 1000, 10.5 and 12; the file's numbers are plain ASCII decimals
        ("a;1;1_000;0\n", "total_conversion_value '1_000' is not a number: use '.'"),
        ("a;1;1_0.5;0\n", "total_conversion_value '1_0.5' is not a number: use '.'"),
        ("a;1;\u0661\u0662;0\n", "total_conversion_value '\u0661\u0662' is not a number"),
        ("b;1;1;0\na>b\t1\t10\t0\n", "line 2: expected 4 fields separated by ';'"),
        ("a>b\t1\t10\t0\n", "found 1; the line looks tab-separated"),
        ("path,conversions,value,nulls\n", "found 1; the line looks comma-separated"),
        ("path;conv;value;nulls\na;1;1;0\n", "line 1: total_conversions 'conv' is not a number (a"),
        ('"a>b;1;1;0\n', "line 1: expected 4 fields"),
    ],
)
def test_a_messy_bad_line_is_an_error_naming_the_line_field_and_fix(
    capsys, tmp_path, text, message
):
    assert message in _refusal_of(capsys, tmp_path, text, model="markov")


def _refusal_of(capsys, tmp_path, text: str, *, model: str) -> str:
    """What `ownlay attribution paths` says on stderr of a path file holding `text`, after
    checking it exited 2 with nothing on stdout and no traceback."""
    file = tmp_path / "bad.csv"
    file.write_text(text)
    status, out, err = ownlay(capsys, "attribution", "paths", str(file), "--model", model)
    assert (status, out) == (2, "")
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("state", ["(start)", "(conversion)", "(null)"])
def test_a_state_of_the_chain_written_as_a_channel_is_refused(capsys, tmp_path, state):
    """Some tutorials write a journey as 'start > a > b > null'; here the chain adds its own
    states, so a channel named like one would be credited as if it were a channel."""
    file = tmp_path / "states.csv"
    file.write_text(f"a > b;1;10;0\na > b > {state};0;0;1\n")
    status, out, err = ownlay(capsys, "attribution", "paths", str(file), "--model", "markov")
    assert (status, out) == (2, "")
    assert f"line 2: {state!r} is a state of the Markov chain, not a channel" in err


@pytest.mark.filterwarnings("error")  # numpy's overflow warning would print beside the error
@pytest.mark.parametrize(
    ("text", "totals"),
    [
        ("a;1e308;1;1\nb;1e308;1;1\n", "total_conversions"),
        ("a;1e308;1;1e308\n", "total_conversions and total_null"),
    ],
)
def test_counts_too_large_to_add_up_are_refused_not_printed_as_nan(capsys, tmp_path, text, totals):
    file = tmp_path / "huge.csv"
    file.write_text(text)
    status, out, err = ownlay(capsys, "attribution", "paths", str(file), "--model", "markov")
    assert (status, out) == (2, "")
    assert err.splitlines() == [
        f"error: {file}: the {totals} add up to more than a number can hold"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a;1;1;0\ncaf\xe9;1;1;0\n".encode("latin-1"), "line 2 is not UTF-8 text"),
        ("a;1;1;0\n".encode("utf-16"), "is UTF-16 text; save it as UTF-8"),
    ],
)
def test_a_file_in_another_encoding_is_named_with_its_line(capsys, tmp_path, content, message):
    file = tmp_path / "encoded.csv"
    file.write_bytes(content)
    status, out, err = ownlay(capsys, "attribution", "paths", str(file), "--model", "last")
    assert (status, out) == (2, "")
    assert message in err
