"""Backtests on the simulated market: deterministic, consistent books, same on both engines."""

from __future__ import annotations

import re

import msgspec
import numpy as np
import pytest

from makerkit.backtest import BacktestConfig, run_synthetic_backtest
from makerkit.book import available_backends
from makerkit.core import ConfigError
from makerkit.strategies import make_strategy


def run(name: str, engine: str, events: int = 40_000, **kw: float) -> object:
    cfg = BacktestConfig(events=events, seed=3, engine=engine, maker_fee=-0.1, taker_fee=0.3)
    return run_synthetic_backtest(make_strategy(name, **kw), cfg)


def test_two_runs_give_identical_results(backend: str) -> None:
    a, b = run("glft", backend), run("glft", backend)
    assert msgspec.json.encode(a.metrics) == msgspec.json.encode(b.metrics)  # type: ignore[attr-defined]
    assert a.fills == b.fills and a.metrics.fills > 0  # type: ignore[attr-defined]


@pytest.mark.skipif("native" not in available_backends(), reason="needs the native engine")
def test_both_engines_run_the_same_backtest() -> None:
    native, python = (
        run("inventory_skew", "native", phi=0.05),
        run("inventory_skew", "python", phi=0.05),
    )
    assert native.fills == python.fills and native.metrics == python.metrics  # type: ignore[attr-defined]


def test_the_books_balance(backend: str) -> None:
    result = run("symmetric", backend, half_spread=1.0)
    fills = np.array(result.fills)  # type: ignore[attr-defined]
    position = int((fills[:, 1] * fills[:, 3]).sum())
    assert position == result.metrics.final_position == result.path["position"][-1]  # type: ignore[attr-defined]
    # equity = cash + position x mid, cash from every fill and its fee
    m = result.metrics  # type: ignore[attr-defined]
    cash = -float((fills[:, 1] * fills[:, 2] * fills[:, 3]).sum()) - m.fees
    last_mid = result.path["mid"][-1]  # type: ignore[attr-defined]
    assert result.path["equity"][-1] == pytest.approx(cash + position * last_mid)  # type: ignore[attr-defined]
    assert m.fills == len(fills) and m.volume == int(fills[:, 3].sum())
    assert m.max_abs_inventory >= abs(m.final_position)


def test_bad_configuration() -> None:
    with pytest.raises(ConfigError, match="events"):
        BacktestConfig(events=0)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"evnts": 5}, BacktestConfig)


class Exploding:
    """Quotes like the symmetric maker, then raises on its 50th decision."""

    name = "exploding"

    def __init__(self, at: int) -> None:
        self.calls, self.at = 0, at
        self.inner = make_strategy("symmetric", half_spread=1.0)

    def quote(self, ctx):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls >= self.at:
            msg = "model diverged"
            raise RuntimeError(msg)
        return self.inner.quote(ctx)

    def on_fill(self, side, price, qty, ctx):  # type: ignore[no-untyped-def]
        return None


@pytest.mark.parametrize("at", [1, 50])
def test_a_strategy_that_raises_is_stopped_cleanly(at: int) -> None:
    strategy = Exploding(at)
    cfg = BacktestConfig(events=200_000, seed=3)
    result = run_synthetic_backtest(strategy, cfg)
    assert result.stopped == "RuntimeError in Exploding.quote: model diverged"
    assert strategy.calls == at  # nothing after the failure
    # its orders were pulled: the last sampled state has no quotes
    assert np.isnan(result.path["bid"][-1]) and np.isnan(result.path["ask"][-1])


def test_reports_carry_the_metrics_plots_and_why_a_run_stopped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    from makerkit.backtest import markout_curve, report_figures, write_comparison, write_report

    good = run_synthetic_backtest(make_strategy("glft"), BacktestConfig(events=60_000, seed=2))
    page = write_report(good, tmp_path / "good").read_text()
    assert page.count("data:image/png;base64,") == 5 and "pnl_total" in page
    # the same plots for a notebook: the report's titles, in its order, as PNG files
    figures = report_figures(good)
    titles = [t for t, _ in figures]
    assert titles == re.findall(r"<h2>([^<]+)</h2><img", page) and len(titles) == 5
    assert all(png.startswith(b"\x89PNG\r\n") for _, png in figures)
    xs, ys = markout_curve(good)
    assert xs and len(xs) == len(ys) and xs == sorted(xs)
    bad = run_synthetic_backtest(Exploding(10), BacktestConfig(events=60_000, seed=2))
    assert (
        "Stopped early: RuntimeError in Exploding.quote"
        in write_report(bad, tmp_path / "bad").read_text()
    )
    table = write_comparison({"glft": good, "exploding": bad}, tmp_path / "cmp").read_text()
    assert table.count("<tr>") == 3
