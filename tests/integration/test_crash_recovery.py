"""kill -9 the venue under load, restart it, and find every acknowledged order and fill."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

ADMIN = "crash-admin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(journal: Path, port: int) -> subprocess.Popen[bytes]:
    log = journal.with_suffix(".log")
    with log.open("ab") as sink:
        command = [sys.executable, "-m", "makerkit", "serve", "--port", str(port)]
        command += ["--journal", str(journal), "--symbols", "AAA", "--admin-key", ADMIN]
        # frequent snapshots: most restarts recover from a snapshot plus the tail
        command += ["--snapshot-every", "200"]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise AssertionError(log.read_text())


def verify(base: str, keys: list[str], acked: dict[str, dict[str, object]]) -> None:
    """Every acknowledged order is there, once, with its acknowledged id and state."""
    clients = {k: httpx.Client(base_url=base, headers={"X-API-Key": k}, timeout=5) for k in keys}
    try:
        for cid, ack in acked.items():
            body = {
                "symbol": "AAA",
                "side": ack["side"],
                "qty": "1",
                "price": ack["price"],
                "client_order_id": cid,
            }
            again = clients[str(ack["key"])].post("/orders", json=body).json()
            assert again["order_id"] == ack["order_id"], f"{cid} lost or duplicated"
            assert again["status"] == ack["status"], f"{cid} answered differently after recovery"
        fills = sum(len(c.get("/fills").json()) for c in clients.values())
        assert fills >= sum(1 for a in acked.values() if a["filled"] != "0")
    finally:
        for c in clients.values():
            c.close()


PER_CYCLE = 100  # acknowledged orders a cycle waits for before the kill


@pytest.mark.expensive
@pytest.mark.slow
def test_acknowledged_orders_and_fills_survive_kill_9(tmp_path: Path) -> None:
    journal = tmp_path / "venue.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(journal, port)
    keys = [
        httpx.post(
            f"{base}/admin/accounts", json={"name": f"t{i}"}, headers={"X-API-Key": ADMIN}
        ).json()["api_key"]
        for i in range(3)
    ]
    acked: dict[str, dict[str, object]] = {}  # client order id -> ack
    lock = threading.Lock()
    cycles = int(os.environ.get("MAKERKIT_CRASH_CYCLES", "10"))
    for cycle in range(cycles):
        stop = threading.Event()

        def trade(worker: int, cycle: int = cycle, stop: threading.Event = stop) -> None:
            key = keys[worker]
            with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=2) as client:
                n = 0
                while not stop.is_set():
                    n += 1
                    cid = f"c{cycle}-w{worker}-{n}"
                    side = "buy" if (n + worker) % 2 else "sell"
                    price = f"{100 + ((n * 7 + worker) % 5 - 2) / 100:.2f}"
                    try:
                        r = client.post(
                            "/orders",
                            json={
                                "symbol": "AAA",
                                "side": side,
                                "qty": "1",
                                "price": price,
                                "client_order_id": cid,
                            },
                        )
                    except httpx.HTTPError:
                        return  # the server died under us: this one was never acknowledged
                    if r.status_code == 200:
                        with lock:
                            acked[cid] = {"key": key, **r.json()}

        threads = [threading.Thread(target=trade, args=(w,)) for w in range(3)]
        for t in threads:
            t.start()
        # kill once this cycle has its acknowledgements, however loaded the machine is
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                done = sum(1 for c in acked if c.startswith(f"c{cycle}-"))
            if done > PER_CYCLE:
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # no clean shutdown, no final flush
        proc.wait()
        stop.set()
        for t in threads:
            t.join()
        proc = start(journal, port)
        verify(base, keys, {c: a for c, a in acked.items() if c.startswith(f"c{cycle}-")})
    verify(base, keys, acked)  # and nothing acknowledged earlier went missing since
    proc.terminate()
    proc.wait()
    assert len(acked) > PER_CYCLE * cycles
    assert list(Path(f"{journal}.snapshots").glob("snapshot-*.bin"))
