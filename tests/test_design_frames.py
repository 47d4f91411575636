"""The notebook face of shuangsuiji.design: strata from pandas, one frame convention, one
meaning per column name, the Jupyter display, and plots with Chinese labels whose axes fit the
population."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from shuangsuiji.design import (
    LEVELS,
    DesignError,
    Strata,
    allocate,
    allocate_budget,
    cjk_font,
    clopper_pearson_interval,
    coverage,
    estimate_rates,
    plot_power,
    sizes_for_detection,
    sizes_for_margin,
    wilson_interval,
)
from shuangsuiji.design._table import MAX_ROWS
from shuangsuiji.synth import make_city

pd = pytest.importorskip("pandas")

TIERS4 = {"A": 5800, "B": 3000, "C": 900, "D": 300}
P4 = {"A": 0.02, "B": 0.05, "C": 0.15, "D": 0.4}


def _tier_region() -> Any:
    index = pd.MultiIndex.from_tuples(
        [("A", 350102), ("A", 350104), ("C", 350102), ("D", 350104)], names=list(LEVELS)
    )
    return pd.Series([400, 250, 60, 20], index=index, name="N")


# --- strata from pandas -----------------------------------------------------------------------


def test_a_series_with_a_tier_region_multiindex_makes_the_engine_labels() -> None:
    strata = Strata.from_sizes(_tier_region())
    assert strata.labels == ("A|350102", "A|350104", "C|350102", "D|350104")
    assert strata.tier_letters() == ("A", "A", "C", "D")
    assert strata.region == ("350102", "350104", "350102", "350104")
    assert strata.levels == ("tier", "region")
    # ... and its frame is indexed by the same MultiIndex (region codes as text).
    frame = strata.to_frame()
    assert list(frame.index.names) == ["tier", "region"]
    assert list(frame.index) == [(t, str(r)) for t, r in _tier_region().index]
    assert Strata.from_sizes(frame["N"]).labels == strata.labels  # a round trip


def test_a_series_of_sizes_by_label_is_read_by_its_index_not_its_values() -> None:
    # The reported failure: Strata.from_sizes(pd.Series) iterated the values (ints).
    series = pd.Series(TIERS4)
    strata = Strata.from_sizes(series)
    assert strata.as_dict() == TIERS4 and strata.levels == ("tier",)
    assert Strata.from_sizes(pd.Series([10, 20], index=[350102, 350104])).labels == (
        "350102",
        "350104",
    )
    by_tier = pd.Series([5, 7], index=pd.Index(["A", "D"], name="tier"))
    assert Strata.from_sizes(by_tier).tier.tolist() == [0, 3]
    unnamed = pd.Series([1, 2], index=pd.MultiIndex.from_tuples([("A", "1"), ("B", "1")]))
    assert Strata.from_sizes(unnamed).labels == ("A|1", "B|1")


def test_a_series_with_other_levels_is_refused_with_the_fix() -> None:
    index = pd.MultiIndex.from_tuples([("A", "x")], names=["grade", "area"])
    with pytest.raises(DesignError, match=r"name the levels \('tier', 'region'\)"):
        Strata.from_sizes(pd.Series([3], index=index))
    with pytest.raises(DesignError, match=r"Strata\.from_frame"):
        Strata.from_sizes(_tier_region().to_frame())
    with pytest.raises(DesignError, match="unknown tier 'E'"):
        Strata.from_sizes({("E", "350102"): 3})


def test_strata_from_a_frame_by_columns_by_index_or_by_counting_rows() -> None:
    by_columns = _tier_region().reset_index()
    assert Strata.from_frame(by_columns).labels == Strata.from_sizes(_tier_region()).labels
    by_index = _tier_region().to_frame()
    assert Strata.from_frame(by_index).labels == Strata.from_sizes(_tier_region()).labels
    entities = pd.DataFrame({"tier": list("DAAB"), "region": ["2", "1", "1", "1"]})
    counted = Strata.from_frame(entities, size=None)
    assert counted.as_dict() == {"A|1": 2, "B|1": 1, "D|2": 1}
    with pytest.raises(DesignError, match="size=None"):
        Strata.from_frame(entities)


def test_per_stratum_inputs_may_be_series_keyed_like_the_frames() -> None:
    strata = Strata.from_sizes(_tier_region())
    p_frame = pd.Series([0.02, 0.03, 0.15, 0.4], index=_tier_region().index)
    by_series = allocate(strata, 200, method="neyman", p=p_frame)
    by_dict = allocate(
        strata, 200, method="neyman", p=dict(zip(strata.labels, p_frame, strict=True))
    )
    assert by_series.as_dict() == by_dict.as_dict()
    by_tier = pd.Series({"A": 0.02, "C": 0.15, "D": 0.4})
    assert allocate(strata, 200, method="neyman", p=by_tier).n.tolist() == (
        allocate(strata, 200, method="neyman", p={"A": 0.02, "C": 0.15, "D": 0.4}).n.tolist()
    )
    count = pd.Series([1, 0, 3, 5], index=_tier_region().index)
    nobs = pd.Series([40, 20, 30, 10], index=_tier_region().index)
    est = estimate_rates(strata, count, nobs)
    assert est.count.tolist() == [1, 0, 3, 5] and est.nobs.tolist() == [40, 20, 30, 10]


# --- one frame convention, one meaning per column ---------------------------------------------


def _results() -> Iterator[tuple[str, Any]]:
    city = make_city(1500, seed=5)
    strata = Strata.from_pool(city.entities)
    tiers = Strata.from_sizes(TIERS4)
    yield "margin", sizes_for_margin(tiers, 0.05, p=P4)
    yield "detection", sizes_for_detection(strata, 0.05)
    yield "allocation", allocate(strata, 150, method="risk", min_ratio=0.03)
    yield "budget", allocate_budget(tiers, 600.0, cost={"A": 1, "B": 1, "C": 1.5, "D": 2}, p=P4)
    yield "estimate", estimate_rates(tiers, [2, 4, 14, 41], [174, 96, 115, 115])
    yield "coverage", coverage(strata, {"A": 0.03, "B": 0.05, "C": 0.2, "D": 0.6}, years=3)


@pytest.fixture(scope="module")
def frames() -> dict[str, Any]:
    return {name: (result, result.to_frame()) for name, result in _results()}


def test_every_frame_is_indexed_by_the_strata_levels_with_n_first(frames: dict[str, Any]) -> None:
    for name, (result, frame) in frames.items():
        extra = ["year"] if name == "coverage" else []
        assert list(frame.index.names) == [*result.strata.levels, *extra], name
        assert frame.columns[0] == "N", name
        assert frame.index.is_unique, name
        assert not any("|" in str(k) for k in frame.index.to_flat_index()), name


def test_a_column_name_means_one_thing_in_every_frame(frames: dict[str, Any]) -> None:
    for name, (result, frame) in frames.items():
        assert not {"exact", "floor", "cap", "weight"} & set(frame.columns), name
        if "ratio" in frame:  # ratio is n / N wherever it appears
            assert np.allclose(frame["ratio"], frame["n"] / frame["N"]), name
        if "n" in frame and name != "coverage":  # n is the sample size of the stratum
            assert frame["n"].tolist() == result.n.tolist(), name
        if "continuous" in frame:  # the unrounded size that n rounds
            assert (np.abs(frame["n"] - frame["continuous"]) < 1 + 1e-9).all(), name
        if "power" in frame:  # P(at least one violator found) with n
            assert ((frame["power"] >= 0.95) & (frame["power"] <= 1)).all(), name
        if "lower" in frame:  # count bounds
            assert ((frame["lower"] <= frame["n"]) & (frame["n"] <= frame["upper"])).all()
    margin, detection = frames["margin"][1], frames["detection"][1]
    assert "continuous" in margin and "power" not in margin
    assert {"power", "violators"} <= set(detection) and "continuous" not in detection
    assert frames["estimate"][1].attrs["rate"] == pytest.approx(frames["estimate"][0].rate)


def test_interval_functions_take_count_then_nobs_like_statsmodels() -> None:
    lo, hi = wilson_interval(3, 60)
    assert 0 < lo < 3 / 60 < hi < 1
    cp_lo, cp_hi = clopper_pearson_interval(3, 60)
    lo90, hi90 = clopper_pearson_interval(count=3, nobs=60, confidence=0.9)
    assert cp_lo < lo90 < 3 / 60 < hi90 < cp_hi
    with pytest.raises(DesignError, match=r"count <= nobs"):
        wilson_interval(60, 3)
    with pytest.raises(TypeError):
        wilson_interval(3, 60, 0.9)  # type: ignore[misc]  # confidence is keyword-only


# --- Jupyter display --------------------------------------------------------------------------


def test_the_display_shows_the_frame_index_and_escapes_labels() -> None:
    strata = Strata.from_sizes({"<b>北区</b>": 100, "南区": 50})
    html = allocate(strata, 30)._repr_html_()
    assert "<th>stratum</th>" in html and "&lt;b&gt;北区&lt;/b&gt;" in html
    assert "<b>北区" not in html
    md = allocate(Strata.from_sizes(_tier_region()), 30)._repr_markdown_()
    assert "| tier | region | N | n | ratio |" in md
    assert "| A | 350102 | 400 |" in md


def test_ipython_prints_the_table_and_repr_is_one_line() -> None:
    pretty = pytest.importorskip("IPython.lib.pretty")
    result = allocate(Strata.from_sizes(TIERS4), 500)
    assert repr(result) == "<Allocation: proportional allocation: 500 inspections>"
    text = pretty.pretty(result)
    assert text == result._repr_markdown_() and "| A | 5,800 | 290 |" in text


def test_the_display_is_cut_after_max_rows_and_needs_no_pandas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    strata = Strata.from_sizes({f"S{i:02d}": 10 + i for i in range(MAX_ROWS + 5)})
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    html = strata._repr_html_()
    assert html.count("<tr>") == MAX_ROWS + 1 and "5 more rows" in html
    assert coverage(strata, 0.1, years=2)._repr_markdown_().count("\n| S") == MAX_ROWS
    with pytest.raises(ImportError):
        strata.to_frame()


# --- plots ------------------------------------------------------------------------------------


@pytest.fixture
def plt() -> Iterator[Any]:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    yield pyplot
    pyplot.close("all")


def _all_plots() -> list[Any]:
    strata = Strata.from_sizes({"鼓楼区": 900, "台江区": 300})
    tiers = Strata.from_sizes(TIERS4)
    return [
        allocate(tiers, 500, method="risk", min_ratio=0.03).plot(),
        allocate(strata, 100).plot(),
        coverage(strata, 0.1, years=4).plot(),
        plot_power(50_000),
    ]


def test_plots_render_chinese_labels_without_a_glyph_warning(plt: Any) -> None:
    if cjk_font() is None:
        pytest.skip("no CJK font installed (CI installs fonts-noto-cjk)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for ax in _all_plots():
            ax.figure.canvas.draw()
            assert any("\u4e00" <= ch <= "\u9fff" for ch in ax.get_title()), ax.get_title()


def test_without_a_cjk_font_plots_fall_back_to_english_quietly(
    plt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shuangsuiji.design._plot as plot_module

    monkeypatch.setattr(plot_module, "cjk_font", lambda: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = allocate(Strata.from_sizes(TIERS4), 500).plot()
        ax.figure.canvas.draw()
    assert ax.get_title() == "proportional allocation: 500 inspections"


@pytest.mark.parametrize("population", [2_000, 50_000, 1_000_000])
def test_power_curves_rise_inside_the_plot_for_any_population(plt: Any, population: int) -> None:
    rates = (0.01, 0.02, 0.05, 0.1)
    ax = plot_power(population, rates)
    assert ax.get_xscale() == "log"
    left, right = (np.log(v) for v in ax.get_xlim())
    curves = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert len(curves) == len(rates)
    for line in curves:
        x, power = (np.asarray(v, dtype=float) for v in line.get_data())
        assert power[0] < 0.5 and power[-1] > 0.99  # the whole rise is shown ...
        crossing = float(np.log(x[np.argmax(power >= 0.95)]))
        # ... and not squeezed against an edge (a linear axis to 30% put every curve of
        # N = 50,000 in its first 3%).
        assert 0.1 < (crossing - left) / (right - left) < 0.95, line.get_label()
