"""The family of views a filtered view belongs to (pure, no Streamlit).

Choosing "stage: final" is choosing one of the six stages; choosing interview dates from March
to May is choosing one of the three-month windows the data spans. A view that stands out among
its family may do so by chance, so the dashboards correct a filtered view's tests across its
family and shrink its estimates toward the overall one (``dashboards.shrinkage``).

The family: every filter that narrows the data is a *dimension*, its levels the values it could
have been set to (each firm, industry group, stage or seniority; for dates, the windows of the
chosen length that tile the data's span). A cell picks one level of every dimension; the family
is every cell (their product), plus the view itself when it is a union of cells (two stages, say).
When the product is larger than ``MAX_CELLS`` only the cells one change away from the view are
estimated (each level of one dimension, the others as chosen) and the correction becomes
Bonferroni over the whole family (see ``dashboards.shrinkage``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # data imports this module
    from dashboards.data import Filters

MAX_CELLS = 36
DIMENSIONS = (  # (Filters field, options key, one, many)
    ("firms", "firms", "firm", "firms"),
    ("industries", "industries", "industry", "industries"),
    ("stages", "stages", "stage", "stages"),
    ("seniorities", "seniorities", "seniority", "seniorities"),
)


@dataclass(frozen=True)
class Dimension:
    field: str  # the Filters field, or "dates"
    one: str  # "stage"
    many: str  # "stages"
    levels: tuple  # values, or (start, end) date windows
    chosen: tuple  # the levels the view covers (a subset of levels)

    @property
    def describe(self) -> str:
        return f"{len(self.levels)} {self.one if len(self.levels) == 1 else self.many}"


@dataclass(frozen=True)
class FamilyOfViews:
    dimensions: tuple[Dimension, ...]
    cells: tuple[Filters, ...]  # the views estimated beside the shown one (not including it)
    size: int  # views in the family, the shown one included
    exhaustive: bool  # cells + the shown view are the whole family

    @property
    def is_filtered(self) -> bool:
        return bool(self.dimensions)

    @property
    def is_combination(self) -> bool:
        """The view is a union of several cells (two stages, say), not one of them."""
        return any(len(d.chosen) > 1 for d in self.dimensions)

    def describe(self) -> str:
        """ "6 stages", "6 stages x 5 seniorities", "4 windows of 92 days"."""
        return " × ".join(d.describe for d in self.dimensions)


def date_windows(lo: date, hi: date, start: date, end: date) -> tuple[tuple[date, date], ...]:
    """Windows of the chosen length (end - start + 1 days), one of them the chosen one, that
    tile the span [lo, hi] (the first and last may stick out of it)."""
    width = (end - start).days + 1
    before = math.ceil(max((start - lo).days, 0) / width)
    after = math.ceil(max((hi - end).days, 0) / width)
    return tuple(
        (start + timedelta(days=k * width), start + timedelta(days=(k + 1) * width - 1))
        for k in range(-before, after + 1)
    )


def dimensions(filters: Filters, options: dict) -> tuple[Dimension, ...]:
    """Every filter that narrows the data: a value list that leaves some option out, or a date
    range shorter than the data's span."""
    out = []
    for field, key, one, many in DIMENSIONS:
        chosen = tuple(v for v in getattr(filters, field) if v in options[key])
        levels = tuple(options[key])
        if chosen and set(chosen) != set(levels):
            out.append(Dimension(field, one, many, levels, chosen))
    span = options.get("dates")
    if span and (filters.date_from or filters.date_to):
        lo, hi = span
        start, end = max(filters.date_from or lo, lo), min(filters.date_to or hi, hi)
        if (start, end) != (lo, hi) and start <= end:
            days = (end - start).days + 1
            windows = date_windows(lo, hi, start, end)
            out.append(
                Dimension(
                    "dates",
                    f"window of {days} days",
                    f"windows of {days} days",
                    windows,
                    ((start, end),),
                )
            )
    return tuple(out)


def _cell(base: Filters, dims: tuple[Dimension, ...], levels: tuple) -> Filters:
    changes = {}
    for d, level in zip(dims, levels, strict=True):
        if d.field == "dates":
            changes |= {"date_from": level[0], "date_to": level[1]}
        else:
            changes[d.field] = (level,)
    return replace(base, **changes)


def family(filters: Filters, options: dict, max_cells: int = MAX_CELLS) -> FamilyOfViews:
    """The family of ``filters`` among ``options`` (``Snapshot.options``)."""
    dims = dimensions(filters, options)
    if not dims:
        return FamilyOfViews((), (), 1, True)
    view_is_cell = all(len(d.chosen) == 1 for d in dims)
    product = math.prod(len(d.levels) for d in dims)
    size = product + (0 if view_is_cell else 1)
    own = tuple(d.chosen[0] for d in dims) if view_is_cell else None
    if product <= max_cells:
        grid = itertools.product(*(d.levels for d in dims))
        cells = tuple(_cell(filters, dims, c) for c in grid if c != own)
        return FamilyOfViews(dims, cells, size, True)
    # Too many views to estimate: the ones one change away (each level of one dimension).
    near = (_cell(filters, (d,), (level,)) for d in dims for level in d.levels)
    cells = tuple(c for c in dict.fromkeys(near) if c != filters)
    return FamilyOfViews(dims, cells, size, False)
