"""Sampling-ratio design (合理确定和调整抽查比率、抽查频次) for analysts and notebooks.

The same engine that makes real draws (:mod:`shuangsuiji.draw`) answers the design questions:

- **How many?** :func:`size_for_margin`, :func:`size_for_detection` and their per-stratum
  forms :func:`sizes_for_margin`, :func:`sizes_for_detection` (a :class:`SizeTable`).
- **Where?** :func:`allocate` a total, or :func:`allocate_budget` inspector-days, across
  :class:`Strata`: proportional, Neyman, cost-optimal or risk-tiered, with floors and caps and
  exact-total rounding (an :class:`Allocation`).
- **How often?** :func:`coverage` (exact Markov chain) and :func:`simulate_coverage` (Monte
  Carlo with the real draw): inspections per entity over K years, P(never inspected), years to
  coverage under exclusion windows.
- **Will the year's plan work?** :func:`simulate_plan` runs the plan's tasks with the real
  candidate freezing, draw and team assignment: inspections per entity, load per inspector,
  recusal pressure (a :class:`PlanSimulation`).
- **What did we learn?** :func:`estimate_rates` / :func:`estimate_from_record`: stratified
  violation rates with Wilson, Clopper–Pearson and Korn–Graubard intervals and design weights.
- **Frames, display and plots**: ``.to_frame()`` on every result, indexed by the strata's
  levels (``tier``, ``region``: a ``MultiIndex``), one meaning per column name; a table in
  Jupyter (``_repr_html_``, ``_repr_markdown_``); ``.plot()`` and :func:`plot_power` with
  Chinese labels in a CJK font (:data:`CJK_FONTS`). pandas and matplotlib are optional and
  imported only when called. :meth:`Strata.from_sizes` and :meth:`Strata.from_frame` take
  pandas Series and DataFrames.

>>> from shuangsuiji.design import Strata, allocate, size_for_margin
>>> size_for_margin(0.05, population=2000)
323
>>> allocate(Strata.from_sizes({"A": 5800, "B": 3000, "C": 900, "D": 300}), 323,
...          method="risk", min_ratio=0.03).as_dict()
{'A': 174, 'B': 90, 'C': 30, 'D': 29}
"""

from shuangsuiji.design._allocate import (
    ALLOCATION_METHODS,
    Allocation,
    InfeasibleAllocation,
    allocate,
    allocate_budget,
    round_largest_remainder,
)
from shuangsuiji.design._coverage import BASES, Coverage, coverage, size_rule, sizes_by_year
from shuangsuiji.design._estimate import (
    RateEstimate,
    clopper_pearson_interval,
    design_weights,
    estimate_from_record,
    estimate_rates,
    wilson_interval,
)
from shuangsuiji.design._plan import PlanSimulation, simulate_plan
from shuangsuiji.design._plot import (
    CJK_FONTS,
    cjk_font,
    plot_allocation,
    plot_coverage,
    plot_power,
    power_range,
)
from shuangsuiji.design._simulate import MC_DOMAIN, replicate_seed, simulate_coverage
from shuangsuiji.design._sizes import (
    SizeTable,
    detection_probability,
    margin_for_size,
    size_for_detection,
    size_for_margin,
    size_for_margin_stratified,
    sizes_for_detection,
    sizes_for_margin,
    z_value,
)
from shuangsuiji.design._strata import (
    LEVELS,
    STRATUM_SEPARATOR,
    DesignError,
    Strata,
    per_stratum,
    stratum_label,
)
from shuangsuiji.design._table import Table

__all__ = [
    "ALLOCATION_METHODS",
    "BASES",
    "CJK_FONTS",
    "LEVELS",
    "MC_DOMAIN",
    "STRATUM_SEPARATOR",
    "Allocation",
    "Coverage",
    "DesignError",
    "InfeasibleAllocation",
    "PlanSimulation",
    "RateEstimate",
    "SizeTable",
    "Strata",
    "Table",
    "allocate",
    "allocate_budget",
    "cjk_font",
    "clopper_pearson_interval",
    "coverage",
    "design_weights",
    "detection_probability",
    "estimate_from_record",
    "estimate_rates",
    "margin_for_size",
    "per_stratum",
    "plot_allocation",
    "plot_coverage",
    "plot_power",
    "power_range",
    "replicate_seed",
    "round_largest_remainder",
    "simulate_coverage",
    "simulate_plan",
    "size_for_detection",
    "size_for_margin",
    "size_for_margin_stratified",
    "size_rule",
    "sizes_by_year",
    "sizes_for_detection",
    "sizes_for_margin",
    "stratum_label",
    "wilson_interval",
    "z_value",
]
