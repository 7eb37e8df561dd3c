"""
The emulator's HTTP server: stdlib ``ThreadingHTTPServer`` with HTTP/1.1 keep-alive.

Routes:

* ``GET|HEAD /query?function=...&apikey=...`` the API (``OPTIONS`` lists the
  allowed methods; any other method gets 405, like the real service).
* ``GET /_admin/health`` liveness, the current "today" and the last session
  published.
* ``GET /_admin/calls[?key=K]`` the call log as JSON.
* ``POST /_admin/clock`` ``{"today": "YYYY-MM-DD"}`` (a day that is over),
  ``{"now": "2026-12-01T08:27-05:00"}`` (an instant: the close rule applies) or
  ``{"advance": N}``.
* ``POST /_admin/faults`` ``{"spec": "503:first=2@MSFT"}`` (empty spec: none).
* ``POST /_admin/reset`` forget the call log and the limit counters.

The stdlib server was chosen over an ASGI framework: no dependency, full control
of the socket for dropped connections and truncated bodies, and rendered bodies are
cached, so a request costs little more than parsing its headers and one
``sendall``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from datetime import date, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from stocks_elt.emulator.config import EmulatorConfig
from stocks_elt.emulator.faults import FaultSpecError
from stocks_elt.emulator.render import Response
from stocks_elt.emulator.service import CallRecord, EmulatorService
from stocks_elt.market.calendar import all_sessions

logger = logging.getLogger(__name__)

_ALLOW = "GET, HEAD, OPTIONS"
_SMALL_BODY = 64 * 1024
_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def _accepts_gzip(header: str) -> bool:
    """Tell whether an Accept-Encoding header accepts gzip (q=0 refuses it)."""
    for part in header.split(","):
        coding, *options = (item.strip() for item in part.split(";"))
        if coding.lower() not in ("gzip", "*"):
            continue
        weights = [o[2:] for o in options if o.lower().startswith("q=")]
        try:
            if not weights or float(weights[0]) > 0:
                return True
        except ValueError:
            continue
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], service: EmulatorService) -> None:
        self.service = service
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stocks-elt-emulator"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- logging: never the URL, it carries the API key ------------------------

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("http %s", format % args if args else format)

    def log_error(self, format: str, *args: Any) -> None:
        logger.warning("http error client=%s", self.client_address[0])

    # -- methods ----------------------------------------------------------------

    def do_GET(self) -> None:
        self._get(send_body=True)

    def do_HEAD(self) -> None:
        self._get(send_body=False)

    def do_OPTIONS(self) -> None:
        self._send(Response(200, b"", "text/plain"), send_body=True)

    def do_POST(self) -> None:
        body = self._read_body()
        path = urlsplit(self.path).path
        if path.startswith("/_admin/"):
            self._admin_post(path, body)
            return
        self._method_not_allowed()

    def do_PUT(self) -> None:
        self._read_body()
        self._method_not_allowed()

    do_DELETE = do_PUT  # noqa: N815
    do_PATCH = do_PUT  # noqa: N815

    # -- helpers ----------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        response: Response,
        send_body: bool,
        truncate: bool = False,
    ) -> None:
        # The status line and headers are written in one go with the body (small
        # bodies) or just before it: never a lone small segment left to Nagle.
        phrase = _PHRASES.get(response.status, "")
        lines = [
            f"{self.protocol_version} {response.status} {phrase}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
        ]
        is_gzipped = response.is_compressible and self._accepts_gzip()
        lines.extend(f"{name}: {value}" for name, value in response.headers(is_gzipped))
        if self.close_connection or truncate:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        payload = response.gzipped if is_gzipped else response.body
        body = payload if send_body else b""
        if truncate:
            body = body[: len(body) // 2]
            self.close_connection = True
        if len(body) <= _SMALL_BODY:
            self.wfile.write(head + body)
        else:
            self.wfile.write(head)
            self.wfile.write(body)

    def _accepts_gzip(self) -> bool:
        return _accepts_gzip(self.headers.get("Accept-Encoding", ""))

    def _json(self, status: int, value: object) -> None:
        body = json.dumps(value, indent=4).encode()
        self._send(Response(status, body), send_body=True)

    def _method_not_allowed(self) -> None:
        params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        body = json.dumps({"detail": f'Method "{self.command}" not allowed.'})
        response = Response(405, body.encode(), outcome="method_not_allowed")
        if urlsplit(self.path).path == "/query":
            self.server.service.record(params, response.outcome, 405)
        self._send(response, send_body=True)

    def _get(self, send_body: bool) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/query":
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            try:
                reply = self.server.service.handle_query(params)
            except Exception:
                # a bug, not a simulated fault: say so loudly, without the key
                logger.exception(
                    "emulator failed function=%s symbol=%s",
                    params.get("function"),
                    params.get("symbol"),
                )
                page = b"<html><body><h1>500 Internal Server Error</h1></body></html>"
                self._send(Response(500, page, "text/html"), send_body)
                return
            if reply.latency_seconds > 0:
                time.sleep(reply.latency_seconds)
            if reply.transport_fault == "drop":
                self.close_connection = True
                return
            self._send(
                reply.response, send_body, truncate=reply.transport_fault == "truncate"
            )
            return
        if parts.path == "/_admin/health":
            service = self.server.service
            today, published = service.clock()
            self._json(
                200,
                {
                    "status": "ok",
                    "today": today.isoformat(),
                    "published_through": published.isoformat(),
                },
            )
            return
        if parts.path == "/_admin/calls":
            query = dict(parse_qsl(parts.query))
            records = self.server.service.calls(query.get("key"))
            self._json(200, {"calls": [record.as_json() for record in records]})
            return
        page = b"<html><body><h1>Not Found</h1></body></html>"
        self._send(Response(404, page, "text/html"), send_body)

    def _admin_post(self, path: str, body: bytes) -> None:
        service = self.server.service
        try:
            payload = json.loads(body or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("the body must be a JSON object")
            if path == "/_admin/clock":
                if "today" in payload:
                    service.set_today(date.fromisoformat(str(payload["today"])))
                elif "now" in payload:
                    service.set_now(datetime.fromisoformat(str(payload["now"])))
                elif "advance" in payload:
                    service.advance(int(payload["advance"]))
                else:
                    raise ValueError(
                        'send {"today": "YYYY-MM-DD"}, {"now": "<ISO instant with '
                        'offset>"} or {"advance": N}'
                    )
                today, published = service.clock()
                self._json(
                    200,
                    {
                        "today": today.isoformat(),
                        "published_through": published.isoformat(),
                    },
                )
            elif path == "/_admin/faults":
                service.set_faults(str(payload.get("spec", "")))
                self._json(200, {"spec": str(payload.get("spec", ""))})
            elif path == "/_admin/reset":
                service.reset()
                self._json(200, {"status": "ok"})
            else:
                self._json(404, {"error": f"no admin endpoint {path}"})
        except (ValueError, FaultSpecError) as exc:
            self._json(400, {"error": str(exc)})


class RunningEmulator:
    """An emulator serving in a background thread; also a context manager.

    Attributes:
        base_url: ``http://HOST:PORT``, what a client uses as its base URL.
        config: the settings it was started with.
        service: the request-handling core (state, call log, limits, faults).
    """

    def __init__(
        self, config: EmulatorConfig, service: EmulatorService, server: _Server
    ) -> None:
        self.config = config
        self.service = service
        self._server = server
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"alpha-vantage-emulator-{self.port}",
            daemon=True,
        )
        self._stopped = False

    def _start(self) -> None:
        self._thread.start()

    @property
    def today(self) -> date:
        """The emulator's "today" (the API day in New York)."""
        return self.service.today

    @property
    def published_through(self) -> date:
        """The last session whose bar the emulator serves."""
        return self.service.published_through

    def set_today(self, day: date) -> None:
        """Fix the clock at the end of ``day`` (its bar is published)."""
        self.service.set_today(day)

    def set_now(self, moment: datetime) -> None:
        """Pin the clock at an instant; the close rule applies."""
        self.service.set_now(moment)

    def advance(self, sessions: int = 1) -> date:
        """Move "today" to the ``sessions``-th next NYSE session and return it.

        Raises:
            ValueError: ``sessions`` < 1 or the result is past the 2035 horizon.
        """
        return self.service.advance(sessions)

    def calls(self, key: str | None = None) -> list[CallRecord]:
        """Return the call log, oldest first, for ``key`` or for every key."""
        return self.service.calls(key)

    def clear_calls(self) -> None:
        """Forget the call log and reset every limit counter."""
        self.service.reset()

    def set_faults(self, spec: str) -> None:
        """Replace the fault rules; see ``stocks_elt.emulator.faults``.

        Raises:
            FaultSpecError: the spec does not parse.
        """
        self.service.set_faults(spec)

    def serve_until_interrupted(self) -> None:
        """Block the calling thread until the server stops or Ctrl-C."""
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving and close every connection; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.close_open_connections()
        self._server.server_close()
        self._thread.join(timeout=5)
        logger.info("emulator stopped url=%s", self.base_url)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_emulator(config: EmulatorConfig) -> RunningEmulator:
    """Start an emulator serving in a background thread.

    The NYSE calendar is loaded before the first request is accepted, so the first
    call is as fast as the others.

    Args:
        config: the settings; ``port=0`` picks a free port.

    Returns:
        The running emulator; call ``stop()`` or use it as a context manager.

    Raises:
        FaultSpecError: ``config.faults`` does not parse.
        ValueError: an explicit event of the universe is off its listing's sessions.
        OSError: the address cannot be bound.
    """
    service = EmulatorService(config)
    all_sessions()
    server = _Server((config.host, config.port), service)
    running = RunningEmulator(config, service, server)
    running._start()
    today, published = service.clock()
    logger.info(
        "emulator started url=%s today=%s published_through=%s symbols=%d",
        running.base_url,
        today.isoformat(),
        published.isoformat(),
        len(config.universe),
    )
    return running
