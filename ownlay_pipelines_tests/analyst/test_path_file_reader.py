"""`read_path_file`'s columnar reader gives the line reader's paths, and its errors, exactly."""

from __future__ import annotations

import io
import random
import re

import numpy as np
import pytest

from ownlay_pipelines.analyst import path_data
from ownlay_pipelines.analyst.path_data import (
    PathCounts,
    PathFileError,
    parse_path_lines,
    read_path_file,
)

LINES = 50_000


def _big_path_file(
    rng: random.Random, line_ends: tuple[str, ...] = ("\n",), quoted: str = ""
) -> str:
    """A header and LINES lines with repeated paths, spaces, blank lines, every number form,
    each line ended by one of `line_ends`; `quoted` "some": about half the fields in double
    quotes, blanks around and inside them; "all": every field "text", no blanks outside the
    quotes (R's write.table writes text so)."""
    channels = [f"ch_{n}" for n in range(25)] + ["Ωmega", "b c"]
    numbers = ("0", "1", "2.5", "1.", ".25", "1e2", "3E-1", "0.1", "40.5", "007")
    numbers += ("2,5", "1,", ",25", "1,5e2", "0,125", "1234,5")  # decimal commas

    def field(text: str, first: bool) -> str:
        if quoted == "all":
            return f'"{text}"'
        if quoted == "some" and rng.random() < 0.5:
            inside = rng.choice(("", " ")) + text + rng.choice(("", " ", "\t"))
            before = rng.choice(("", " ", "  ", "\t ") if first else ("", " ", "  "))
            return before + f'"{inside}"' + rng.choice(("", " ", "\t"))
        return text

    header = [" PATH", " Total_Conversions ", "total_conversion_value", "total_null"]
    lines = [";".join(field(text, n == 0) for n, text in enumerate(header))]
    for _ in range(LINES):
        path = rng.choice((">", " > ", ">\t")).join(
            rng.choice(channels) for _ in range(rng.randint(1, 6))
        )
        fields = [field(path, True)] + [field(rng.choice(numbers), False) for _ in range(3)]
        if quoted == "all":
            lines.append(";".join(fields))
        else:
            lines.append(rng.choice((";", " ;", "; ")).join(fields) + rng.choice(("", " ", "\t")))
        if rng.random() < 0.01:
            lines.append("")
    return "".join(line + rng.choice(line_ends) for line in lines)


def _assert_same(fast: PathCounts, slow: PathCounts) -> None:
    assert fast.channels == slow.channels
    for field in ("touches", "offsets", "conversions", "value", "nulls"):
        ours, theirs = getattr(fast, field), getattr(slow, field)
        assert ours.dtype == theirs.dtype, field
        assert np.array_equal(ours, theirs), field


@pytest.mark.parametrize(
    ("line_ends", "quoted"),
    [
        (("\n",), ""),
        (("\r\n",), ""),  # Windows
        (("\n", "\r\n", "\r"), ""),  # mixed, old Mac "\r" too
        (("\n",), "some"),
        (("\r\n",), "some"),
        (("\r\n",), "all"),  # R's write.table(quote=TRUE) of text columns on Windows
    ],
    ids=["lf", "crlf", "mixed", "quoted", "quoted-crlf", "all-quoted-crlf"],
)
def test_a_large_file_reads_the_same_columnar_as_line_by_line(tmp_path, line_ends, quoted):
    text = _big_path_file(random.Random(12), line_ends, quoted)
    file = tmp_path / "paths.csv"
    file.write_bytes(text.encode("utf-8"))
    columnar = path_data._read_plain_path_file(file.read_bytes())
    assert columnar is not None  # the columnar reader took the whole file, no fallback
    slow = parse_path_lines(io.StringIO(text, newline=None))
    _assert_same(columnar, slow)
    _assert_same(read_path_file(file), slow)
    assert columnar.path_count < LINES  # repeated paths were summed, as by the line reader


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("a>b;1;2", "found 3"),
        ("a>b;1;2;3;4", "found 5"),
        ("a>>b;1;2;3", "path 'a>>b' has an empty channel name"),
        ("a;one;2;3", "total_conversions 'one' is not a number"),
        ("a;1;-2;3", "total_conversion_value '-2' must be a finite number ≥ 0"),
        ("a;1;2;1e999", "total_null '1e999' must be a finite number ≥ 0"),
        ("a;1;2;nan", "total_null 'nan' must be a finite number ≥ 0"),
        ("a;1;1,000;3", "total_conversion_value '1,000' is ambiguous"),
        ("a;1;1.000,5;3", "total_conversion_value '1.000,5' is not a number: use '.' or ','"),
    ],
)
def test_a_bad_line_deep_in_a_large_file_is_named_by_its_line(tmp_path, bad_line, message):
    lines = _big_path_file(random.Random(5)).splitlines()
    lines.insert(40_000, bad_line)
    file = tmp_path / "paths.csv"
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(PathFileError, match=r"^line 40001: ") as error:
        read_path_file(file)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "text",
    [
        "a\xa0>b;1;2;3\n",  # a no-break space str.strip() trims
        "\ufeffpath;total_conversions;total_conversion_value;total_null\na;1;2;3\n",
        "a;+1;1_000;3\n",  # numbers float() reads and the columnar check does not
        "a;1;2;3\n \nb;1;2;3\n",  # a line of spaces is blank to the line reader
        # quotes the csv module reads and a split at every ';' cannot
        '"a;b";1;2;3\n',  # a separator inside quotes
        '"a\nb";1;2;3\n',  # a line end inside quotes (the line reader refuses it)
        '"a ""b""";1;2;3\nc;1;2;3\n',  # an escaped quote
        'a;\t"1";2;3\n',  # a tab before a quote: not skipped, so the quote is text
        'a"b;1;2;3\n',  # a quote inside a field is text
        '"a" b;1;2;3\n',  # text after the closing quote joins the field
        '"";1;2;3\n',  # an empty path, quoted
        '"a";"1";"2";"3"\n";"1";"2";"3"\n',  # a lone quote where the others are quoted
    ],
)
def test_files_the_columnar_reader_is_unsure_of_are_read_line_by_line(tmp_path, text):
    file = tmp_path / "paths.csv"
    file.write_bytes(text.encode("utf-8"))
    assert path_data._read_plain_path_file(file.read_bytes()) is None
    try:
        expected = parse_path_lines(io.StringIO(text, newline=None))
    except PathFileError as error:
        with pytest.raises(PathFileError, match=f"^{re.escape(str(error))}$"):
            read_path_file(file)
    else:
        _assert_same(read_path_file(file), expected)


@pytest.mark.parametrize(
    "text",
    [
        "a>b;1;2;3\r\nb;0;0;1\r\n",  # Windows line ends
        "a>b;1;2;3\rb;0;0;1\r",  # old Mac line ends
        "a>b;1;2;3\r\n\r\nb;0;0;1",  # a blank line, no line end at the end
        # R's write.csv2: the header and text quoted, decimal commas, Windows line ends
        '"path";"total_conversions";"total_conversion_value";"total_null"\r\n'
        '"a > b";1;2,5;3\r\n"b";0;0;1\r\n',
        ' "a" ; "1" ;"2"\t; " 3 "\n',  # blanks around and inside quotes
    ],
)
def test_windows_line_ends_and_quoted_fields_are_read_columnar(tmp_path, text):
    """The files R and Excel write on Windows take the columnar reader, with the same result."""
    columnar = path_data._read_plain_path_file(text.encode("utf-8"))
    assert columnar is not None
    _assert_same(columnar, parse_path_lines(io.StringIO(text, newline=None)))


@pytest.mark.parametrize(
    "first_line", ["path;total_conversions;total_conversion_value;total_null", "a > b;1;10;2"]
)
def test_a_file_saved_as_excel_csv_utf8_starts_with_a_bom_that_is_not_data(tmp_path, first_line):
    file = tmp_path / "paths.csv"
    file.write_bytes(("\ufeff" + first_line + "\r\na>b;1;10;2\r\n").encode("utf-8"))

    paths = read_path_file(file)

    assert paths.channels == ("a", "b")
    assert paths.conversions.sum() == (2 if first_line.startswith("a") else 1)
