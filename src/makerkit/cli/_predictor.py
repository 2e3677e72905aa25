"""``makerkit predictor``: build datasets, evaluate every model, train and save one."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import msgspec
import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from makerkit.core import ConfigError, DataError, MakerkitError

__all__ = ["predictor_app"]

predictor_app = typer.Typer(
    help="Short-term prediction: evaluate models honestly, train and save one.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)

SOURCE_HELP = (
    "A LOBSTER message file (its orderbook twin is found by name), a Binance capture "
    "(binance_*_stream.gz), days from the catalog (catalog:VENUE:SYMBOL:FROM[..TO][,catalog=DIR]) "
    "or synthetic[:seed=N,events=N] (the simulator, one level). Repeatable."
)


def _fail(exc: MakerkitError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}", highlight=False)
    return typer.Exit(2)


def _json_line(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()


def load_dataset(spec: str, every: int = 1, levels: int | None = None) -> Any:
    """A dataset from a LOBSTER message file, a Binance capture, catalog days or the simulator.

    ``levels``: the top of the book kept (a catalog spec: 5 by default).
    """
    from makerkit.predictor import book_dataset, lobster_dataset

    if levels is not None and levels < 1:
        msg = f"invalid `levels`, must be >= 1, was {levels}"
        raise ConfigError(msg)

    if spec.startswith("synthetic"):
        from makerkit.data import MarketSimulator, SimParams

        opts = dict(p.split("=", 1) for p in spec.partition(":")[2].split(",") if "=" in p)
        bad = sorted(set(opts) - {"seed", "events"})
        if bad:
            msg = f"invalid synthetic option(s) {bad}, valid: seed, events"
            raise ConfigError(msg)
        seed, events = int(opts.get("seed", 7)), int(opts.get("events", 200_000))
        if levels is not None and levels > 1:
            msg = f"invalid `levels` for {spec}, the simulator has 1, was {levels}"
            raise ConfigError(msg)
        run = MarketSimulator(SimParams.default(), seed=seed).run(events, record=True)
        l1 = run.l1.astype(np.float64)
        s = run.stream
        market = s.action == 3
        return book_dataset(
            s.ts, l1[:, :1], l1[:, 1:2], l1[:, 2:3], l1[:, 3:4], trade_ts=s.ts[market],
            trade_qty=s.qty[market], trade_side=s.side[market], every=every,
            source=f"synthetic:seed={seed},events={events}",
        )  # fmt: skip
    if spec.startswith("catalog:"):  # days from the catalog: the book after each update
        from makerkit.backtest import book_levels, load_market, parse_data_spec

        market = load_market(parse_data_spec(spec))
        assert market is not None  # noqa: S101 - a catalog spec always has events
        b = book_levels(market, levels or 5)
        return book_dataset(
            b["ts"], b["bid_px"], b["bid_sz"], b["ask_px"], b["ask_sz"], trade_ts=b["trade_ts"],
            trade_qty=b["trade_qty"], trade_side=b["trade_side"], every=every, source=spec,
        )  # fmt: skip
    from makerkit.data import load_binance_capture, load_lobster

    if Path(spec).name.startswith("binance_"):
        from makerkit.predictor import binance_dataset

        return binance_dataset(load_binance_capture(spec), every=every, levels=levels or 5)
    message = Path(spec)
    book = message.with_name(message.name.replace("message", "orderbook"))
    if "message" not in message.name or not book.exists():
        msg = f"{spec}: not a LOBSTER message file with its orderbook twin beside it ({book.name})"
        raise DataError(msg)
    day = load_lobster(message, book)
    if levels is not None:
        if levels > day.levels:
            msg = f"invalid `levels` for {message.name}, it has {day.levels}, was {levels}"
            raise ConfigError(msg)
        day = msgspec.structs.replace(day, book=day.book[:, : 4 * levels], levels=levels)
    return lobster_dataset(day, every=every)


def _table(report: dict[str, Any]) -> Table:
    t = Table(title=f"horizon {report['horizon_events']} events (test: "
              f"{report['samples']['test']:,} samples, classes {report['class_balance_test']})",
              title_justify="left")  # fmt: skip
    for col in ("model", "accuracy", "macro-F1", "F1 down", "F1 stat.", "F1 up", "ECE", "train s"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for name, r in report["models"].items():
        pc = r["per_class"]
        mark = " *" if name == report["best_model"] else ""
        f1 = [f"{pc[c]['f1']:.3f}" for c in ("down", "stationary", "up")]
        t.add_row(name + mark, f"{r['accuracy']:.3f}", f"{r['macro_f1']:.3f}", *f1,
                  f"{r['ece']:.3f}", f"{r['train_seconds']:.1f}")  # fmt: skip
    return t


def _write_report(reports: dict[int, dict[str, Any]], out_dir: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "not written (pip install makerkit[report])"
    from makerkit.metrics import png as _png

    parts = ["<h1>Predictor evaluation</h1>"]
    for k, rep in reports.items():
        names = list(rep["models"])
        fig, (bars, calib) = plt.subplots(1, 2, figsize=(11, 3.5))
        bars.bar(names, [rep["models"][n]["macro_f1"] for n in names], color="tab:blue")
        bars.set(ylabel="macro-F1 (test)", title=f"horizon {k} events")
        bars.tick_params(axis="x", rotation=30)
        for n in names:
            pts = rep["models"][n]["calibration"]
            calib.plot([p["confidence"] for p in pts], [p["accuracy"] for p in pts], marker="o",
                       label=n)  # fmt: skip
        calib.plot([0, 1], [0, 1], color="grey", lw=0.5)
        calib.set(xlabel="confidence", ylabel="accuracy", title="calibration")
        calib.legend(fontsize=7)
        parts.append(f"<h2>Horizon {k} events</h2><p>alpha {rep['alpha']:.3g}; samples "
                     f"{rep['samples']}; best: {rep['best_model']}</p>"
                     f'<img src="data:image/png;base64,{_png(fig)}">')  # fmt: skip
        plt.close(fig)
        best = rep["models"][rep["best_model"]]["confusion"]
        rows = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in r) + "</tr>" for r in best)
        parts.append(f"<h3>Confusion of {rep['best_model']} (rows: truth down, stationary, up)"
                     f"</h3><table border=1>{rows}</table>")  # fmt: skip
    page = out_dir / "report.html"
    page.write_text("<html><body>" + "".join(parts) + "</body></html>")
    return str(page)


@predictor_app.command("evaluate")
def evaluate_cmd(
    train: Annotated[list[str], typer.Option(help=SOURCE_HELP)],
    horizon: Annotated[list[int], typer.Option(help="Label horizon in events (repeatable).")],
    test: Annotated[
        list[str] | None, typer.Option(help="Held-out data (default: the last 20% of --train).")
    ] = None,
    models: Annotated[str, typer.Option(help="Comma-separated models.")] = (
        "majority,persistence,logistic,lightgbm,mlp,deeplob"
    ),
    every: Annotated[int, typer.Option(help="Sample every Nth book state.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed for every model.")] = 0,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for metrics.json and report.html.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one line of JSON.")] = False,
) -> None:
    """Train every model on --train, score it on --test; metrics per model and horizon."""
    from makerkit.predictor import evaluate

    names = [m.strip() for m in models.split(",") if m.strip()]
    try:
        train_ds = [load_dataset(s, every) for s in train]
        test_ds = [load_dataset(s, every) for s in test or []]
        reports = {}
        for k in horizon:
            err.print(f"[dim]horizon {k}: training {', '.join(names)}[/]")
            reports[k], _ = evaluate(train_ds, k, test=test_ds, models=names, seed=seed)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    except ImportError as exc:
        raise _fail(ConfigError(f"{exc}: pip install makerkit[ml]")) from exc
    for rep in reports.values():
        (err if as_json else out).print(_table(rep))
    first = reports[horizon[0]]
    payload: dict[str, Any] = {
        "train": train, "test": test or [], "horizon_events": horizon[0],
        "models": first["models"], "best_model": first["best_model"],
        "by_horizon": {str(k): r for k, r in reports.items()},
    }  # fmt: skip
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "metrics.json").write_text(json.dumps(payload, indent=2))
        payload["report"] = _write_report(reports, out_dir)
    if as_json:
        _json_line(payload)


@predictor_app.command("train")
def train_cmd(
    data: Annotated[list[str], typer.Option(help=SOURCE_HELP)],
    horizon: Annotated[int, typer.Option(help="Label horizon in events.")],
    model: Annotated[
        str, typer.Option(help="Model name (default: the best out of sample, see `cross`).")
    ] = "logistic",
    output: Annotated[Path, typer.Option("--output", "-o", help="Model file.")] = Path("model.mkp"),
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for metrics.json and report.html.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one line of JSON.")] = False,
) -> None:
    """Train one model (time split, early stopping) and save it with its schema."""
    from makerkit.predictor import evaluate

    try:
        ds = [load_dataset(s) for s in data]
        report, fitted = evaluate(ds, horizon, models=[model], seed=seed)
        fitted[model].save(output)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    except ImportError as exc:
        raise _fail(ConfigError(f"{exc}: pip install makerkit[ml]")) from exc
    scores = report["models"][model]
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "metrics.json").write_text(json.dumps(report, indent=2))
        _write_report({horizon: report}, out_dir)
    (err if as_json else out).print(
        f"{model}: test macro-F1 {scores['macro_f1']:.3f}, accuracy {scores['accuracy']:.3f}; "
        f"saved to {output}"
    )
    if as_json:
        _json_line(
            {"model": model, "output": str(output), "test": scores, "alpha": report["alpha"]}
        )


def _book_levels(spec: str) -> int | None:
    """How many levels a source has, from its name (LOBSTER, Binance, synthetic); None: unknown."""
    if spec.startswith("synthetic"):
        return 1
    name = Path(spec).name
    if name.startswith("binance_"):
        return 5
    found = re.search(r"_message_(\d+)", name)
    return int(found.group(1)) if found else None


def _day_of(spec: str) -> str | None:
    """TICKER_DATE of a LOBSTER file (the same day at two depths is one day)."""
    found = re.match(r"([A-Za-z.]+_\d{4}-\d{2}-\d{2})_", Path(spec).name)
    return found.group(1) if found else None


def _cross_tables(report: dict[str, Any]) -> tuple[Table, Table]:
    ref = report["reference"]
    pairs = Table(title=f"macro-F1 out of sample, horizon {report['horizon_events']} events "
                  f"(train -> test; delta vs {ref} with a block-bootstrap 95% CI)",
                  title_justify="left")  # fmt: skip
    for col in ("train", "test", "model", "macro-F1", "accuracy", f"delta vs {ref}", "95% CI"):
        pairs.add_column(col, justify="left" if col in ("train", "test", "model") else "right")
    for r in report["rows"]:
        lo, hi = r["delta_ci95"]
        pairs.add_row(_short(r["train"]), _short(r["test"]), r["model"], f"{r['macro_f1']:.3f}",
                      f"{r['accuracy']:.3f}", f"{r['delta_vs_reference']:+.3f}",
                      f"[{lo:+.3f}, {hi:+.3f}]")  # fmt: skip
    means = Table(title="mean over pairs (95% CI: bootstrap over the pairs)", title_justify="left")
    for col in ("model", "mean macro-F1", "95% CI", "min", "max", f"delta vs {ref}", "95% CI",
                "wins"):  # fmt: skip
        means.add_column(col, justify="left" if col == "model" else "right")
    best = report["verdict"]["best_model"]
    for m, s in report["summary"].items():
        (a, b), (c, d) = s["macro_f1_ci95"], s["delta_vs_reference_ci95"]
        means.add_row(m + (" *" if m == best else ""), f"{s['mean_macro_f1']:.3f}",
                      f"[{a:.3f}, {b:.3f}]", f"{s['min_macro_f1']:.3f}", f"{s['max_macro_f1']:.3f}",
                      f"{s['mean_delta_vs_reference']:+.3f}", f"[{c:+.3f}, {d:+.3f}]",
                      f"{s['wins_vs_reference']}/{s['pairs']}")  # fmt: skip
    return pairs, means


def _short(source: str) -> str:
    """GOOG_2012-06-21 L10[1/2] rather than the whole file name."""
    name = source.split(":", 1)[-1]
    found = re.match(r"([A-Za-z.]+_\d{4}-\d{2}-\d{2})_.*_message_(\d+)[^\[]*(\[.*\])?$", name)
    if found:
        return f"{found.group(1)} L{found.group(2)}{found.group(3) or ''}"
    return name


@predictor_app.command("cross")
def cross_cmd(
    data: Annotated[list[str], typer.Option(help=SOURCE_HELP)],
    horizon: Annotated[int, typer.Option(help="Label horizon in events.")],
    models: Annotated[str, typer.Option(help="Comma-separated models (must include logistic).")] = (
        "majority,persistence,logistic,lightgbm,mlp,deeplob"
    ),
    every: Annotated[int, typer.Option(help="Sample every Nth book state.")] = 1,
    windows: Annotated[
        int, typer.Option(help="Cut each source into N time windows; each is a source.")
    ] = 1,
    levels: Annotated[
        int | None, typer.Option(help="Book levels for every source (default: the fewest any has).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for every model and the bootstrap.")] = 0,
    boot: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 200,
    block: Annotated[int, typer.Option(help="Bootstrap block length in samples.")] = 100,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for cross.json.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one line of JSON.")] = False,
) -> None:
    """Train on each source (or window), test on every other; per pair, per model, a verdict."""
    from makerkit.predictor import cross_evaluate, split_windows

    names = [m.strip() for m in models.split(",") if m.strip()]
    try:
        if len(data) * windows < 2:
            msg = (
                f"invalid `data`, need at least 2 sources (or --windows >= 2) to train on one and "
                f"test on another, got {len(data)} source(s) and {windows} window(s)"
            )
            raise ConfigError(msg)
        days = [d for d in map(_day_of, data) if d is not None]
        twice = sorted({d for d in days if days.count(d) > 1})
        if twice:
            msg = f"invalid `data`, the same day given twice is not out of sample: {twice}"
            raise ConfigError(msg)
        if levels is None:
            known = [n for n in map(_book_levels, data) if n is not None]
            levels = min(known) if known else None
        sources = []
        for spec in data:
            err.print(f"[dim]loading {spec} (every {every}, {levels} levels)[/]")
            sources += split_windows(load_dataset(spec, every, levels), windows)
        err.print(
            f"[dim]{len(sources)} sources x {len(sources) - 1}: training {', '.join(names)}[/]"
        )
        report = cross_evaluate(sources, horizon, models=names, seed=seed, boot=boot, block=block)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    except ImportError as exc:
        raise _fail(ConfigError(f"{exc}: pip install makerkit[ml]")) from exc
    report["data"], report["every"], report["windows"], report["levels"] = (
        data,
        every,
        windows,
        levels,
    )
    console = err if as_json else out
    for t in _cross_tables(report):
        console.print(t)
    console.print(report["verdict"]["line"], highlight=False)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "cross.json").write_text(json.dumps(report, indent=2))
    if as_json:
        _json_line(report)
