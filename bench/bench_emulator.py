"""
Benchmark: how many daily-series responses per second the emulator serves.

Each server runs in its own process; the clients run in this one, over keep-alive
HTTP/1.1 connections from several threads, on the same machine. The baseline is a
minimal stdlib HTTP/1.1 server answering the same pre-rendered bytes, so the ratio
shows what the emulator's routing, key checks, limits, faults and cache cost on top
of moving the bytes. Target: at least 300 full-history (25+ years) responses per
second.

    flock /tmp/stocks-elt-heavy.lock uv run python bench/bench_emulator.py

Prints one row per case: case, baseline_s, candidate_s, ratio, then responses per
second; exits 1 if the target is missed.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import socket
import sys
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.queues import Queue
from typing import Any
from urllib.parse import urlencode

TODAY = date(2026, 6, 30)
PREMIUM_KEY = "bench-premium"
SYMBOLS = ("IBM", "AAPL", "MSFT", "KO", "JPM", "XOM", "WMT", "HD")
TARGET_FULL_PER_SECOND = 300.0


def _query(symbol: str, outputsize: str) -> str:
    params = {
        "function": "TIME_SERIES_DAILY",
        "symbol": symbol,
        "outputsize": outputsize,
        "apikey": PREMIUM_KEY,
    }
    return "/query?" + urlencode(params)


def _bodies(outputsize: str) -> dict[str, bytes]:
    from stocks_elt.emulator import Market, default_universe, render_response

    market = Market(default_universe())
    return {
        _query(symbol, outputsize): render_response(
            "TIME_SERIES_DAILY",
            {
                "function": "TIME_SERIES_DAILY",
                "symbol": symbol,
                "outputsize": outputsize,
            },
            market,
            TODAY,
        ).body
        for symbol in SYMBOLS
    }


def _serve_baseline(port_queue: Queue[int], outputsize: str) -> None:
    """A minimal keep-alive stdlib server answering pre-rendered bodies by path."""
    bodies = _bodies(outputsize)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # without it, headers and body in two writes meet Nagle's algorithm
            # and delayed ACKs: 40 ms per small answer
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            body = bodies[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def _serve_emulator(port_queue: Queue[int], outputsize: str) -> None:
    from stocks_elt.emulator import EmulatorConfig, start_emulator

    running = start_emulator(
        EmulatorConfig(today=TODAY, premium_keys=frozenset({PREMIUM_KEY}))
    )
    port_queue.put(running.port)
    running.serve_until_interrupted()


def _hammer(port: int, paths: list[str], requests: int, threads: int) -> float:
    """Send ``requests`` GETs over ``threads`` keep-alive connections; seconds."""
    per_thread = requests // threads
    errors: list[BaseException] = []

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            for i in range(per_thread):
                connection.request("GET", paths[(offset + i) % len(paths)])
                response = connection.getresponse()
                body = response.read()
                if response.status != 200 or not body.startswith(b"{"):
                    raise RuntimeError(f"bad answer status={response.status}")
        except BaseException as exc:  # reported after the run
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def _measure(
    target: Any, outputsize: str, requests: int, threads: int
) -> tuple[float, float]:
    """Return (first-round seconds, hot seconds) against a server process."""
    context = multiprocessing.get_context("spawn")
    port_queue: Queue[int] = context.Queue()
    process = context.Process(target=target, args=(port_queue, outputsize), daemon=True)
    process.start()
    try:
        port = port_queue.get(timeout=120)
        paths = [_query(symbol, outputsize) for symbol in SYMBOLS]
        cold = _hammer(port, paths, len(paths), 1)  # renders and caches each body
        hot = _hammer(port, paths, requests, threads)
        return cold, hot
    finally:
        process.terminate()
        process.join()


def main() -> int:
    """Run the cases, print the table, and check the absolute target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full-requests", type=int, default=1200)
    parser.add_argument("--compact-requests", type=int, default=6000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    from stocks_elt.emulator.market import Market
    from stocks_elt.emulator.universe import default_universe

    rows = []
    market = Market(default_universe())
    history = market.history("IBM", TODAY)
    assert history is not None
    sessions = len(history)
    results: dict[str, float] = {}
    for case, outputsize, requests in (
        ("daily_full_hot", "full", args.full_requests),
        ("daily_compact_hot", "compact", args.compact_requests),
    ):
        _, baseline = _measure(_serve_baseline, outputsize, requests, args.threads)
        cold, candidate = _measure(_serve_emulator, outputsize, requests, args.threads)
        rows.append((case, baseline, candidate, requests))
        results[case] = requests / candidate
        results[case + "_first_s"] = cold / len(SYMBOLS)

    print(
        f"{'case':<20} {'baseline_s':>10} {'candidate_s':>11} {'ratio':>6}"
        f" {'baseline_rps':>12} {'candidate_rps':>13}"
    )
    for case, baseline, candidate, requests in rows:
        print(
            f"{case:<20} {baseline:>10.3f} {candidate:>11.3f} "
            f"{candidate / baseline:>6.2f} {requests / baseline:>12.0f} "
            f"{requests / candidate:>13.0f}"
        )
    print(
        f"full history = {sessions} sessions (IBM 1999-11-01..{TODAY}); first "
        f"(uncached) full response {results['daily_full_hot_first_s'] * 1000:.0f} ms,"
        f" first compact {results['daily_compact_hot_first_s'] * 1000:.0f} ms"
    )
    full_rps = results["daily_full_hot"]
    verdict = "PASS" if full_rps >= TARGET_FULL_PER_SECOND else "FAIL"
    print(
        f"target full-history >= {TARGET_FULL_PER_SECOND:.0f} responses/s: "
        f"{verdict} ({full_rps:.0f}/s)"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
