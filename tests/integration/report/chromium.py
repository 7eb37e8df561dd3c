"""
A small headless Chromium driver for page tests: the DevTools protocol over
``--remote-debugging-pipe`` (fd 3 in, fd 4 out, NUL-separated JSON), so it needs no
websocket library and no port.

It records what a person would notice: console errors and warnings, uncaught
exceptions, browser log errors (a Content-Security-Policy refusal, a failed load)
and every network request the page makes.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BINARIES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """Return the path of a Chromium binary on PATH, or None."""
    override = os.environ.get("STOCKS_ELT_CHROMIUM")
    if override:
        return shutil.which(override)
    for name in BINARIES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _above_nine(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class BrowserError(RuntimeError):
    """The browser did not answer, or answered a command with an error."""


@dataclass
class PageLog:
    """What a page said and fetched while it was open."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class Browser:
    """One headless Chromium process; open pages with :meth:`open`."""

    def __init__(self, binary: str, profile: Path, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._next_id = 0
        self._pending: dict[int, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        to_child_read, self._to_child = os.pipe()
        self._from_child, from_child_write = os.pipe()
        # Lift the child's ends above 9 so the shell can put them on 3 and 4
        # without overwriting one with the other.
        to_child_read = _above_nine(to_child_read)
        from_child_write = _above_nine(from_child_write)
        args = [
            binary,
            "--headless",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--force-color-profile=srgb",
            "--window-size=1400,2400",
        ]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses root without it
        args.append("about:blank")

        # bash (dash takes single-digit descriptors only) puts the pipes on the
        # descriptors Chromium expects, 3 and 4.
        redirect = (
            f'exec "$@" 3<&{to_child_read} 4>&{from_child_write} '
            f"{to_child_read}<&- {from_child_write}>&-"
        )
        self.process = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash", "-c", redirect, "bash", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_child_read, from_child_write),
        )
        os.close(to_child_read)
        os.close(from_child_write)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_child, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._events.append({"method": "_closed"})
                    self._cond.notify_all()
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._cond:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._pending[message["id"]] = message
                    else:
                        self._events.append(message)
                self._cond.notify_all()

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
    ) -> dict[str, Any]:
        """Send one command and wait for its result."""
        with self._cond:
            self._next_id += 1
            command_id = self._next_id
        message: dict[str, Any] = {
            "id": command_id,
            "method": method,
            "params": params or {},
        }
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while command_id not in self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    raise BrowserError(f"no answer to {method} within {self.timeout}s")
                self._cond.wait(remaining)
            answer = self._pending.pop(command_id)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    def events_since(self, start: int) -> list[dict[str, Any]]:
        """Return the events received from index ``start`` on."""
        with self._cond:
            return list(self._events[start:])

    def event_count(self) -> int:
        """Return how many events arrived so far."""
        with self._cond:
            return len(self._events)

    def wait_for_event(self, method: str, session: str, start: int) -> dict[str, Any]:
        """Wait for the first ``method`` event of ``session`` after index ``start``."""
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while True:
                for event in self._events[start:]:
                    if (
                        event.get("method") == method
                        and event.get("sessionId") == session
                    ):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BrowserError(f"no {method} within {self.timeout}s")
                self._cond.wait(remaining)

    def open(self, url: str, width: int = 1400, height: int = 2400) -> Page:
        """Open ``url`` in a new tab of ``width`` x ``height`` pixels; wait for load."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send(
            "Target.attachToTarget", {"targetId": target, "flatten": True}
        )["sessionId"]
        page = Page(self, session, self.event_count())
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        start = self.event_count()
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for_event("Page.loadEventFired", session, start)
        return page

    def close(self) -> None:
        """Close the browser and wait for its process to end."""
        with suppress(BrowserError, OSError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with suppress(OSError):
            os.close(self._to_child)
        self._reader.join(timeout=5)
        with suppress(OSError):
            os.close(self._from_child)


class Page:
    """One tab: evaluate JavaScript, read its log, take screenshots."""

    def __init__(self, browser: Browser, session: str, first_event: int) -> None:
        self.browser = browser
        self.session = session
        self._first_event = first_event

    def evaluate(self, expression: str) -> Any:
        """Return the JSON value of ``expression`` evaluated in the page."""
        result = self.browser.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=self.session,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_until(self, expression: str, timeout: float = 30.0) -> None:
        """Poll ``expression`` until it is true."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise BrowserError(f"{expression} still false after {timeout}s")
            time.sleep(0.05)

    def mouse_move(self, x: float, y: float) -> None:
        """Move the mouse to page coordinates (CSS pixels of the viewport)."""
        self.browser.send(
            "Input.dispatchMouseEvent",
            {"type": "mouseMoved", "x": x, "y": y},
            session=self.session,
        )

    def screenshot(self, path: Path) -> None:
        """Save a PNG of the viewport to ``path``."""
        data = self.browser.send(
            "Page.captureScreenshot", {"format": "png"}, session=self.session
        )["data"]
        path.write_bytes(base64.b64decode(data))

    def log(self) -> PageLog:
        """Return everything the page reported so far."""
        log = PageLog()
        for event in self.browser.events_since(self._first_event):
            if event.get("sessionId") != self.session:
                continue
            method = event.get("method")
            params = event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                text = " ".join(
                    str(arg.get("value", arg.get("description", "")))
                    for arg in params.get("args", [])
                )
                if params.get("type") in ("error", "assert"):
                    log.errors.append(f"console.{params['type']}: {text}")
                elif params.get("type") == "warning":
                    log.warnings.append(f"console.warn: {text}")
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                description = details.get("exception", {}).get("description")
                log.errors.append(f"exception: {description or details.get('text')}")
            elif method == "Log.entryAdded":
                entry = params.get("entry", {})
                line = f"{entry.get('source')}: {entry.get('text')}"
                if entry.get("level") == "error":
                    log.errors.append(line)
                elif entry.get("level") == "warning":
                    log.warnings.append(line)
            elif method == "Network.requestWillBeSent":
                log.requests.append(params.get("request", {}).get("url", ""))
        return log


@contextmanager
def launch(binary: str) -> Iterator[Browser]:
    """Start a headless Chromium with a throw-away profile; close it afterwards."""
    with tempfile.TemporaryDirectory(prefix="stocks-elt-chromium-") as profile:
        browser = Browser(binary, Path(profile))
        try:
            browser.send("Browser.getVersion")
            yield browser
        finally:
            browser.close()
