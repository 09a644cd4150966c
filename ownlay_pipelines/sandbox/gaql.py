"""A small, strict parser for the Google Ads Query Language (GAQL) subset connectors use.

    SELECT field[, field…] FROM resource
    [WHERE condition [AND condition…]] [ORDER BY field [ASC|DESC][, …]] [LIMIT n]

Conditions: `=`, `!=`, `>`, `>=`, `<`, `<=`, `IN (…)`, `NOT IN (…)`, `BETWEEN 'a' AND 'b'`,
`DURING LAST_7_DAYS`. Keywords are case-insensitive. Syntax errors carry the QueryError enum
name Google answers with (google/ads/googleads/v21/errors/query_error.proto); whether a field
exists is checked later, against the resource catalog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOKEN = re.compile(
    r"""\s*(?:(?P<string>'[^'\n]*'|"[^"\n]*")|(?P<number>-?\d+(?:\.\d+)?)"""
    r"""|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)|(?P<operator>!=|>=|<=|=|>|<)|(?P<punct>[(),]))"""
)
KEYWORDS = frozenset(
    {"SELECT", "FROM", "WHERE", "AND", "ORDER", "BY", "ASC", "DESC", "LIMIT", "IN", "NOT"}
    | {"BETWEEN", "DURING", "LIKE", "OR", "PARAMETERS", "IS", "NULL", "CONTAINS"}
)


class GaqlError(ValueError):
    """A query Google would refuse; `code` is the QueryError enum name it reports."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Value:
    """A literal in a condition: a quoted string, a number, or a bare enum constant."""

    text: str
    kind: str


@dataclass(frozen=True)
class Condition:
    """`field operator values`; BETWEEN has two values, IN / NOT IN one or more."""

    field: str
    operator: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Ordering:
    """One ORDER BY term."""

    field: str
    descending: bool


@dataclass(frozen=True)
class GaqlQuery:
    """A parsed query: what to select from which resource, filtered, ordered and limited."""

    fields: tuple[str, ...]
    resource: str
    conditions: tuple[Condition, ...]
    ordering: tuple[Ordering, ...]
    limit: int | None


def parse_gaql(text: str) -> GaqlQuery:
    """Parse `text`; GaqlError names the first problem as Google's QueryError would."""
    return _Parser(_tokens(text)).query()


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            rest = text[position:].lstrip()
            if rest[:1] in ("'", '"'):
                code = "PROHIBITED_NEWLINE_IN_STRING" if "\n" in rest else "STRING_NOT_TERMINATED"
                raise GaqlError(code, f"Query has an invalid string starting at: {rest[:20]}")
            code = "BAD_SYMBOL" if not rest[:1].isascii() else "UNEXPECTED_INPUT"
            raise GaqlError(code, f"Query has unexpected input: {rest[:20]!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "name" and value.upper() in KEYWORDS:
            kind, value = "keyword", value.upper()
        tokens.append((kind, value))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def query(self) -> GaqlQuery:
        """The whole query; every token must be consumed."""
        if not self._accept_keyword("SELECT"):
            raise GaqlError("EXPECTED_SELECT", "SELECT is missing at the beginning of query.")
        fields = self._names("SELECT")
        if not self._accept_keyword("FROM"):
            raise GaqlError("EXPECTED_FROM", "Missing FROM clause.")
        resource = self._name("FROM")
        conditions = []
        if self._accept_keyword("WHERE"):
            conditions.append(self._condition())
            while self._accept_keyword("AND"):
                conditions.append(self._condition())
        ordering = []
        if self._accept_keyword("ORDER"):
            if not self._accept_keyword("BY"):
                raise GaqlError("EXPECTED_BY", "Expecting ORDER BY to have BY.")
            ordering = [self._ordering()]
            while self._accept("punct", ","):
                ordering.append(self._ordering())
        limit = self._limit() if self._accept_keyword("LIMIT") else None
        if self.position < len(self.tokens):
            raise GaqlError(
                "UNEXPECTED_INPUT",
                f"Query has an unexpected extra part: '{self.tokens[self.position][1]}'.",
            )
        return GaqlQuery(tuple(fields), resource, tuple(conditions), tuple(ordering), limit)

    def _names(self, clause: str) -> list[str]:
        names = [self._name(clause)]
        while self._accept("punct", ","):
            names.append(self._name(clause))
        return names

    def _name(self, clause: str) -> str:
        kind, value = self._next(clause)
        if kind != "name":
            raise GaqlError(
                "BAD_FIELD_NAME", f"Expected a field or resource name in {clause}, got '{value}'."
            )
        return value

    def _condition(self) -> Condition:
        field = self._name("WHERE")
        kind, operator = self._next("WHERE")
        if kind == "operator":
            return Condition(field, operator, (self._value(),))
        if operator == "NOT" and self._accept_keyword("IN"):
            return Condition(field, "NOT IN", self._list())
        if operator == "IN":
            return Condition(field, "IN", self._list())
        if operator == "BETWEEN":
            low = self._value()
            if not self._accept_keyword("AND"):
                raise GaqlError(
                    "EXPECTED_AND", "Expected AND between values with BETWEEN operator."
                )
            return Condition(field, "BETWEEN", (low, self._value()))
        if operator == "DURING":
            _, literal = self._next("DURING")
            return Condition(field, "DURING", (Value(literal, "enum"),))
        raise GaqlError("BAD_OPERATOR", f"Invalid operator encountered: '{operator}'.")

    def _list(self) -> tuple[Value, ...]:
        if not self._accept("punct", "("):
            raise GaqlError(
                "EXPECTED_LIST",
                "The operator used in the conditions requires the value to be a list.",
            )
        if self._accept("punct", ")"):
            raise GaqlError(
                "PROHIBITED_EMPTY_LIST_IN_CONDITION", "A Condition was found with an empty list."
            )
        values = [self._value()]
        while self._accept("punct", ","):
            values.append(self._value())
        if not self._accept("punct", ")"):
            raise GaqlError(
                "UNEXPECTED_END_OF_QUERY", "A list in a condition is not closed with ')'."
            )
        return tuple(values)

    def _value(self) -> Value:
        kind, text = self._next("WHERE")
        if kind == "string":
            return Value(text[1:-1], "string")
        if kind == "number":
            return Value(text, "number")
        if kind == "name":
            return Value(text, "enum")
        raise GaqlError("BAD_VALUE", f"Value is invalid: '{text}'.")

    def _ordering(self) -> Ordering:
        field = self._name("ORDER BY")
        if self._accept_keyword("DESC"):
            return Ordering(field, True)
        self._accept_keyword("ASC")
        return Ordering(field, False)

    def _limit(self) -> int:
        kind, text = self._next("LIMIT")
        if kind != "number" or not text.lstrip("-").isdigit():
            raise GaqlError("BAD_LIMIT_VALUE", f"Limit value is invalid: '{text}'.")
        if int(text) < 1:
            raise GaqlError(
                "LIMIT_VALUE_TOO_LOW", "The value passed to the limit clause is too low."
            )
        return int(text)

    def _next(self, clause: str) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise GaqlError(
                "UNEXPECTED_END_OF_QUERY",
                f"Query is incomplete and cannot be parsed (in {clause}).",
            )
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _accept(self, kind: str, value: str) -> bool:
        if self.position < len(self.tokens) and self.tokens[self.position] == (kind, value):
            self.position += 1
            return True
        return False

    def _accept_keyword(self, keyword: str) -> bool:
        return self._accept("keyword", keyword)
