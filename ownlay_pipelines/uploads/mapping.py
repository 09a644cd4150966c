"""Which file column fills which target column: suggested from header names, overridable by a file.

A mapping file (YAML) may set any of:

```yaml
columns:                # target column: header as written in the file
  spend: "Amount (EUR)"
  report_date: "Day"
defaults:               # a constant for a target the file has no column for
  platform: pinterest
  currency: EUR
date_format: "%d/%m/%Y" # strptime format for every date column (skips detection)
decimal: ","            # decimal separator for every number column (skips detection)
```

Suggestion: each header is normalised (accents dropped, lower case, other characters as `_`,
leading and trailing `_` dropped) and matched against each target's synonyms in order; a header
fills at most one target, and an exact target name wins over a synonym. Ad platforms' exports
name the currency in the money header (Meta's `Amount spent (EUR)`, Reddit's `Amount Spent
(USD)`): a trailing ISO 4217 code is not part of the name, and when the file has no currency
column and no mapping default, the code its money headers agree on is the file's currency.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import duckdb
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ownlay_pipelines.uploads.currencies import ISO_4217_CODES
from ownlay_pipelines.uploads.kinds import COLUMNS_BY_KIND, ONE_OF_REQUIRED, UploadKind, ValueType
from ownlay_pipelines.uploads.layouts import ExportLayout, layout_columns

NON_WORD = re.compile(r"[^a-z0-9]+")
HEADER_CURRENCY = re.compile(r"(?:^|[\s(\[_-])(?:in\s+)?([A-Z]{3})[)\]]?\s*$")
"""An upper-case currency code closing a header: `Spend (EUR)`, `Cost [USD]`, `Spend in GBP`."""


class MappingError(ValueError):
    """A mapping file or header set that cannot fill the kind's required columns."""


class MappingFile(BaseModel):
    """The overrides a user can give for one upload (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, str] = Field(default_factory=dict)
    defaults: dict[str, str] = Field(default_factory=dict)
    date_format: str | None = None
    decimal: str | None = None

    @field_validator("decimal")
    @classmethod
    def _decimal(cls, value: str | None) -> str | None:
        if value not in (None, ".", ","):
            raise ValueError("decimal must be '.' or ','")
        return value

    @field_validator("defaults")
    @classmethod
    def _defaults(cls, value: dict[str, str]) -> dict[str, str]:
        """A currency constant must be a code (its rows would all be refused otherwise)."""
        currency = value.get("currency")
        if currency is not None and currency.strip().upper() not in ISO_4217_CODES:
            raise ValueError(f"currency {currency!r} is not an ISO 4217 currency code")
        return value

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, value: str | None) -> str | None:
        """A format DuckDB's strptime accepts (its directives are not quite Python's)."""
        if value is None:
            return value
        with duckdb.connect() as connection:
            try:
                connection.execute("SELECT try_strptime('', $1)", [value])
            except duckdb.InvalidInputException as error:
                detail = str(error).split(": ", 1)[-1]
                raise ValueError(f"{value!r} is not a date format ({detail})") from error
        return value


def normalise_header(header: str) -> str:
    """`"Amount Spent (USD)"` → `amount_spent_usd`; `"Coût"` → `cout`."""
    decomposed = unicodedata.normalize("NFKD", header.strip().lower())
    unaccented = "".join(c for c in decomposed if not unicodedata.combining(c))
    return NON_WORD.sub("_", unaccented).strip("_")


def header_currency(header: str) -> str | None:
    """The ISO 4217 code a header ends with (`Amount spent (EUR)` → EUR), if any."""
    match = HEADER_CURRENCY.search(header.strip())
    if match is None or match.group(1).upper() not in ISO_4217_CODES:
        return None
    return match.group(1).upper()


def _name_without_currency(header: str) -> str:
    """The normalised header without a closing currency code: `amount_spent_eur` → `amount_spent`."""
    code = header_currency(header)
    name = normalise_header(header)
    if code is None or not name.endswith(code.lower()):
        return name
    return name[: -len(code)].rstrip("_").removesuffix("_in")


def read_mapping_file(path: Path) -> MappingFile:
    """Parse a mapping file; a clear MappingError names the file and the bad field."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return MappingFile.model_validate(document)
    except OSError as error:
        raise MappingError(f"mapping file {path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise MappingError(
            f"mapping file {path}: not UTF-8 text (byte {error.start}); save it as UTF-8"
        ) from error
    except yaml.MarkedYAMLError as error:
        # YAML's own message spans lines and draws a caret under the spot: one line instead.
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise MappingError(f"mapping file {path}: {where}{error.problem}") from error
    except yaml.YAMLError as error:
        raise MappingError(f"mapping file {path}: {error}") from error
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise MappingError(f"mapping file {path}: {problems}") from error


def suggest_mapping(kind: UploadKind, headers: Sequence[str]) -> dict[str, int]:
    """Target column → index of the header suggested for it."""
    normalised = [normalise_header(h) for h in headers]
    bare = [_name_without_currency(h) for h in headers]
    taken: set[int] = set()
    chosen: dict[str, int] = {}
    targets = COLUMNS_BY_KIND[kind]
    for target in targets:  # exact target names first
        if target.name in normalised and normalised.index(target.name) not in taken:
            chosen[target.name] = normalised.index(target.name)
            taken.add(chosen[target.name])
    for target in targets:
        if target.name in chosen:
            continue
        names = bare if target.type is ValueType.MONEY else normalised
        for synonym in target.synonyms:
            index = next((i for i, h in enumerate(names) if h == synonym and i not in taken), None)
            if index is not None:
                chosen[target.name] = index
                taken.add(index)
                break
    return chosen


def resolve_mapping(
    kind: UploadKind,
    headers: Sequence[str],
    overrides: MappingFile | None,
    layout: ExportLayout | None = None,
) -> dict[str, int]:
    """Suggested mapping, corrected by a recognised export's `layout`, with the file's overrides
    applied; checks the required columns."""
    overrides = overrides or MappingFile()
    known = {t.name for t in COLUMNS_BY_KIND[kind]}
    unknown = sorted((set(overrides.columns) | set(overrides.defaults)) - known)
    if unknown:
        raise MappingError(
            f"mapping names {', '.join(unknown)}, which {kind.value} files do not have; "
            f"known columns: {', '.join(sorted(known))}"
        )
    chosen = suggest_mapping(kind, headers)
    if layout is not None:
        fixed = layout_columns(layout, [normalise_header(h) for h in headers])
        chosen = {
            t: i
            for t, i in chosen.items()
            if t not in layout.unmapped and t not in fixed and i not in fixed.values()
        }
        chosen.update(fixed)
    for target, header in overrides.columns.items():
        matches = [i for i, h in enumerate(headers) if h == header]
        if not matches:
            raise MappingError(
                f"mapping: column {header!r} for {target} is not in the file's header "
                f"({', '.join(repr(h) for h in headers)})"
            )
        chosen = {t: i for t, i in chosen.items() if i != matches[0]}
        chosen[target] = matches[0]
    for target in overrides.defaults:
        chosen.pop(target, None)
    filled = set(chosen) | set(overrides.defaults)
    missing = [t.name for t in COLUMNS_BY_KIND[kind] if t.required and t.name not in filled]
    for group in ONE_OF_REQUIRED.get(kind, ()):
        if not filled & set(group):
            missing.append(" or ".join(group))
    if missing:
        raise MappingError(
            f"no column found for {', '.join(missing)} in header "
            f"({', '.join(repr(h) for h in headers)}); name it in a mapping file "
            "(--mapping, `columns: {target: header}`)"
        )
    return chosen


def with_header_currency(
    kind: UploadKind,
    headers: Sequence[str],
    columns: dict[str, int],
    overrides: MappingFile | None,
) -> MappingFile:
    """The overrides plus `currency` from the money headers, when the file has no currency column,
    the overrides set none, and every mapped money header that names a code names the same one.
    """
    overrides = overrides or MappingFile()
    if "currency" in columns or "currency" in overrides.defaults:
        return overrides
    money = {t.name for t in COLUMNS_BY_KIND[kind] if t.type is ValueType.MONEY}
    codes = {header_currency(headers[i]) for target, i in columns.items() if target in money}
    codes.discard(None)
    if len(codes) != 1:
        return overrides
    return overrides.model_copy(
        update={"defaults": {**overrides.defaults, "currency": codes.pop()}}
    )
