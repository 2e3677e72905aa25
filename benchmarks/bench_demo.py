"""The demo with the dashboard open: the issue's 5-minute check, measured.

Runs ``makerkit demo --duration S`` (all strategies, the venue in its own
process) and keeps the dashboard open in headless Chromium for the whole run,
logged in as one strategy's account. Reports the page's first contentful
paint, its update rate, the sequence gaps of its public and private feeds,
console errors, and the demo's own summary (per-strategy orders and fills, the
SDK feed's gaps, errors). JSON to benchmarks/results/bench_demo.json.

    python benchmarks/bench_demo.py [--seconds 300] [--json]

Needs playwright and a `chromium` on PATH (Debian's package).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def text(page: Any, testid: str) -> str:
    return str(page.locator(f"[data-testid={testid}]").first.inner_text()).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--account", default="glft", help="strategy whose account the page shows")
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("needs a `chromium` on PATH (apt-get install chromium)")
    out = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    port = free_port()
    makerkit = str(Path(sys.executable).with_name("makerkit"))
    demo = subprocess.Popen(  # noqa: S603 - our own CLI
        [makerkit, "demo", "--duration", str(opts.seconds), "--port", str(port),
         "--out", str(out), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    keys_file = out / "accounts.json"
    deadline = time.monotonic() + 180  # a first run trains the rl policy
    while not keys_file.exists():
        if demo.poll() is not None or time.monotonic() > deadline:
            sys.exit("the demo did not start")
        time.sleep(0.5)
    keys = json.loads(keys_file.read_text())
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        started = time.monotonic()
        page.goto(keys["url"] + "/", wait_until="domcontentloaded")
        page.wait_for_function(
            "() => /\\d/.test(document.querySelector('[data-testid=best-bid]').textContent)"
        )
        first_book_ms = (time.monotonic() - started) * 1000
        with contextlib.suppress(Exception):  # headless Chromium records it a moment later
            page.wait_for_function(
                "() => performance.getEntriesByName('first-contentful-paint').length > 0",
                timeout=5000,
            )
        fcp = page.evaluate(
            "() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
        )
        page.fill("[data-testid=api-key-input]", keys["accounts"][opts.account]["api_key"])
        page.click("[data-testid=api-key-save]")
        rates = []
        while demo.poll() is None:
            time.sleep(5)
            with contextlib.suppress(ValueError):
                rates.append(float(text(page, "update-rate").replace(",", "")))
        page_gaps = int(text(page, "gap-count"))
        private_gaps = int(text(page, "private-gap-count"))
        updates = int(text(page, "update-total").replace(",", ""))
        browser.close()
    lines = (demo.stdout.read() if demo.stdout else "").strip().splitlines()
    summary = json.loads(lines[-1]) if lines else {}
    # the venue going away at the end is expected: the page says so in the console
    during = [e for e in errors if "ERR_CONNECTION_REFUSED" not in e and "WebSocket" not in e]
    result = {
        "seconds": opts.seconds,
        "first_contentful_paint_ms": fcp,
        "first_book_ms": round(first_book_ms, 1),
        "page_updates": updates,
        "page_updates_per_sec_median": sorted(rates)[len(rates) // 2] if rates else None,
        "page_md_gaps": page_gaps,
        "page_private_gaps": private_gaps,
        "page_console_errors": during,
        "demo_md_gaps": summary.get("md_gaps"),
        "demo_errors": summary.get("errors"),
        "strategies": [
            {k: s[k] for k in ("name", "symbol", "orders", "fills", "position", "pnl")}
            for s in summary.get("strategies", [])
        ],
        "all_quoting": all(s["orders"] > 0 for s in summary.get("strategies", [])),
    }
    target = Path(__file__).parent / "results" / "bench_demo.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(result, indent=2))
    if opts.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
