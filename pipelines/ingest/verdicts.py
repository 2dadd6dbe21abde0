"""The GX suite's per-row verdicts as Polars expressions, compiled from the suite itself.

Asking GX which rows break which rule (result_format COMPLETE over every record) cost ~0.8 s per
run plus a pandas copy per row_condition: a third of preparing a file. :func:`compile_rule` turns
one expectation's configuration (its type and kwargs, as GX stores them) into a boolean Polars
expression, true where GX's pandas engine reports the row as unexpected, evaluated on the same
view GX is given (pipelines.ingest.validate builds both). The suite stays the single definition:
nothing here names a field or a rule.

Semantics copied from GX's pandas engine (1.24), each pinned by tests/pipelines/ingest/
test_verdicts.py against GX's own verdicts:

* a row_condition is a ``DataFrame.query`` filter: only rows where it holds are judged, and a
  comparison with a null value does not hold;
* column map expectations skip null values, except the (not-)null expectations themselves;
* the column-pair comparison skips rows where either value is missing (the only ignore_row_if
  compiled);
* regexes are Python ``re.search`` patterns; Polars runs Rust's regex, so :func:`rust_regex`
  translates the few constructs whose meaning differs (``\\Z``; ``\\s``/``\\S``, where Python
  also counts U+001C-U+001F as space) and refuses any it does not know.

An expectation type, kwarg, condition or regex construct not handled here raises
:class:`UnsupportedRule` when the suite is compiled, so no rule is ever silently skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl


class UnsupportedRule(ValueError):
    """An expectation the compiler cannot evaluate exactly as GX does."""


# Code points Python's re counts as \s in str patterns (all of str.isspace()); Rust's \s lacks
# U+001C-U+001F. Checked over every code point by the tests.
PYTHON_SPACE = (
    (0x09, 0x0D), (0x1C, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680),
    (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000),
)  # fmt: skip
_SPACE_CLASS = "".join(rf"\x{{{a:x}}}-\x{{{b:x}}}" for a, b in PYTHON_SPACE)
# Escapes that mean the same in both engines (punctuation) or are translated here.
_ESCAPES = {"Z": r"\z", "A": r"\A", "S": f"[^{_SPACE_CLASS}]"}
# Kwargs every compiled type may carry without changing which rows fail.
_NEUTRAL = {"column", "row_condition", "condition_parser", "mostly", "result_format"}
_NEUTRAL |= {"catch_exceptions", "meta", "include_config", "batch_id"}


def rust_regex(pattern: str) -> str:
    """A Python ``re`` pattern as a Rust regex matching the same strings under search.

    Only a known subset is accepted: literals, escaped punctuation, ``[...]`` classes, groups
    ``(...)`` / ``(?:...)``, ``| * + ? {m,n}``, ``^``, ``.``, ``\\A``, ``\\Z``, ``\\s``, ``\\S``.
    ``$`` is refused (Python lets it match before a final newline), as are ``[`` ``&&`` ``--``
    ``~~`` inside a class (set operations in Rust, literals in Python).
    """
    out, i, class_start = [], 0, None  # class_start: index of the open '[', if in a class
    while i < len(pattern):
        char, following = pattern[i], pattern[i + 1 : i + 2]
        if char == "\\":
            out.append(_escape(pattern, following, in_class=class_start is not None))
            i += 2
            continue
        if class_start is None:
            if char == "$" or (char == "(" and following == "?" and pattern[i + 2 : i + 3] != ":"):
                raise UnsupportedRule(f"regex {pattern!r}: {char}{following} is not compiled")
            if char == "[":
                class_start = i
        elif char == "[" or pattern[i : i + 2] in ("&&", "--", "~~"):
            raise UnsupportedRule(f"regex {pattern!r}: class syntax at {i} is not compiled")
        elif char == "]" and i > class_start + 1 and pattern[class_start:i] != "[^":
            class_start = None
        out.append(char)
        i += 1
    _check_compiles(pattern, "".join(out))
    return "".join(out)


def _escape(pattern: str, escaped: str, *, in_class: bool) -> str:
    if escaped == "s":
        return _SPACE_CLASS if in_class else f"[{_SPACE_CLASS}]"
    if escaped in _ESCAPES and not in_class:
        return _ESCAPES[escaped]
    if escaped and escaped.isascii() and not (escaped.isalnum() or escaped in "<> \t\n"):
        return "\\" + escaped  # escaped punctuation: a literal in both engines
    raise UnsupportedRule(f"regex {pattern!r}: escape \\{escaped} is not compiled")


def _check_compiles(pattern: str, translated: str) -> None:
    try:
        pl.Series([""], dtype=pl.String).str.contains(translated)
    except pl.exceptions.ComputeError as exc:
        raise UnsupportedRule(f"regex {pattern!r} does not compile for Polars: {exc}") from exc


def condition(config: dict[str, Any] | None) -> pl.Expr:
    """A GX row_condition (dict form) as a mask: true where the row is judged."""
    if config is None:
        return pl.lit(True)
    kind = config.get("type")
    if kind == "and":
        return pl.all_horizontal(*(condition(c) for c in config["conditions"]))
    if kind == "nullity":
        column = pl.col(config["column"]["name"])
        return column.is_null() if config["is_null"] else column.is_not_null()
    if kind == "comparison" and config["operator"] == "==":
        # pandas' query: a null value is not equal to anything.
        value = pl.lit(config["parameter"])
        return (pl.col(config["column"]["name"]) == value).fill_null(False)
    raise UnsupportedRule(f"row_condition {config!r} is not compiled")


def _null(kw: dict) -> pl.Expr:
    return pl.col(kw["column"]).is_not_null()


def _not_null(kw: dict) -> pl.Expr:
    return pl.col(kw["column"]).is_null()


def _in_set(kw: dict) -> pl.Expr:
    column = pl.col(kw["column"])
    return column.is_not_null() & ~column.is_in(list(kw["value_set"]))


def _regex(kw: dict) -> pl.Expr:
    column = pl.col(kw["column"])
    return column.is_not_null() & ~column.str.contains(rust_regex(kw["regex"]))


def _outside(value: pl.Expr, kw: dict) -> pl.Expr:
    low, high = kw.get("min_value"), kw.get("max_value")
    if kw.get("strict_min") or kw.get("strict_max"):
        raise UnsupportedRule(f"strict bounds are not compiled: {kw!r}")
    too_low = value < low if low is not None else pl.lit(False)
    too_high = value > high if high is not None else pl.lit(False)
    return value.is_not_null() & (too_low | too_high)


def _between(kw: dict) -> pl.Expr:
    return _outside(pl.col(kw["column"]), kw)


def _length_between(kw: dict) -> pl.Expr:
    return _outside(pl.col(kw["column"]).str.len_chars(), kw)


def _a_greater_than_b(kw: dict) -> pl.Expr:
    if kw.get("ignore_row_if") != "either_value_is_missing":
        raise UnsupportedRule(f"column pair with ignore_row_if={kw.get('ignore_row_if')!r}")
    a, b = pl.col(kw["column_A"]), pl.col(kw["column_B"])
    ok = a >= b if kw.get("or_equal") else a > b
    return a.is_not_null() & b.is_not_null() & ~ok


_BOUNDS = {"min_value", "max_value", "strict_min", "strict_max"}
# expectation type -> (its own kwargs, the failing-row expression)
_COMPILERS: dict[str, tuple[set[str], Callable[[dict], pl.Expr]]] = {
    "expect_column_values_to_be_null": (set(), _null),
    "expect_column_values_to_not_be_null": (set(), _not_null),
    "expect_column_values_to_be_in_set": ({"value_set"}, _in_set),
    "expect_column_values_to_match_regex": ({"regex"}, _regex),
    "expect_column_values_to_be_between": (_BOUNDS, _between),
    "expect_column_value_lengths_to_be_between": (_BOUNDS, _length_between),
    "expect_column_pair_values_a_to_be_greater_than_b": (
        {"column_A", "column_B", "or_equal", "ignore_row_if"},
        _a_greater_than_b,
    ),
}


def compile_rule(expectation_type: str, kwargs: dict[str, Any]) -> pl.Expr:
    """Boolean expression, true where GX would list the row as unexpected."""
    if expectation_type not in _COMPILERS:
        raise UnsupportedRule(
            f"{expectation_type} has no per-row verdict in pipelines.ingest.verdicts; "
            "compile it there (with an equivalence test) before adding it to the suite"
        )
    own, build = _COMPILERS[expectation_type]
    unknown = set(kwargs) - own - _NEUTRAL
    if unknown:
        raise UnsupportedRule(f"{expectation_type}: kwargs {sorted(unknown)} are not compiled")
    if kwargs.get("mostly") not in (None, 1, 1.0):
        raise UnsupportedRule(f"{expectation_type}: mostly={kwargs['mostly']} is not compiled")
    if kwargs.get("condition_parser") is not None:
        raise UnsupportedRule(f"{expectation_type}: string row_conditions are not compiled")
    row_condition = kwargs.get("row_condition")
    if row_condition is not None and not isinstance(row_condition, dict):
        row_condition = row_condition.dict()
    return condition(row_condition) & build(kwargs)


def compile_expectation(expectation: Any) -> pl.Expr:
    """:func:`compile_rule` for a GX expectation object."""
    config = expectation.configuration
    return compile_rule(config.type, dict(config.kwargs))
