"""The demo's venue process: a fresh one each run, never another process's, never left behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")

from makerkit.cli._demo import DemoConfig, VenueProcess
from makerkit.core import ConfigError


def _config(out: Path, port: int = 0) -> DemoConfig:
    return DemoConfig(symbols=("AAA",), port=port, duration=1.0, out_dir=out, rl=False)


def test_a_rerun_starts_a_fresh_venue_whatever_the_last_run_left(tmp_path: Path) -> None:
    """A long run's snapshots beside a removed journal would be refused at recovery."""
    out = tmp_path / "demo"
    snapshots = out / "venue.db.snapshots"
    snapshots.mkdir(parents=True)
    (snapshots / "snapshot-00000000000000400058.bin").write_bytes(b"left by a long run")
    (out / "venue.db-wal").write_bytes(b"left too")
    venue = VenueProcess(_config(out), "demo-admin-key-1")
    try:
        asyncio.run(venue.wait_ready())
    finally:
        code = venue.stop()
    assert code in (0, -signal.SIGINT)
    assert not snapshots.exists() or not any(snapshots.glob("snapshot-00000000000000400058*"))


def test_a_venue_of_another_process_on_the_port_is_refused(tmp_path: Path) -> None:
    """The demo would otherwise trade against it with keys it does not know."""
    first = VenueProcess(_config(tmp_path / "first"), "demo-admin-key-1")
    try:
        asyncio.run(first.wait_ready())
        second = VenueProcess(_config(tmp_path / "second", first.port), "demo-admin-key-2")
        try:
            with pytest.raises(ConfigError, match=f"another process answers on port {first.port}"):
                asyncio.run(second.wait_ready())
        finally:
            second.stop()
    finally:
        first.stop()


@pytest.mark.slow
def test_a_terminated_demo_stops_its_venue(tmp_path: Path) -> None:
    """SIGTERM is taken as a Ctrl-C: quotes pulled, the venue (in its own session) stopped."""
    out = tmp_path / "demo"
    demo = subprocess.Popen(
        [sys.executable, "-m", "makerkit", "demo", "--duration", "120", "--no-rl",
         "--port", "0", "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ},
    )  # fmt: skip
    accounts = out / "accounts.json"
    try:
        deadline = time.monotonic() + 90
        while not (accounts.exists() and (out / "live.json").exists()):
            assert demo.poll() is None, "the demo ended before it traded"
            assert time.monotonic() < deadline, "the demo did not start"
            time.sleep(0.2)
        url = json.loads(accounts.read_text())["url"]
        assert httpx.get(url + "/health").status_code == 200
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) in (0, 1, 130)  # its report written, as after a Ctrl-C
    finally:
        if demo.poll() is None:
            demo.kill()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health")
    assert "Traceback" not in (out / "server.log").read_text()
