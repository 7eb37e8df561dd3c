"""
Parse lake objects in child processes, beside the process that writes to Postgres.

Parsing is CPU work in Python; the COPY and merge are the database's. In one
process the two fight over the GIL, so for big loads the loader starts a few
children (``python -m stocks_elt.warehouse.parse_worker``) that parse while it
writes. Plain child processes rather than ``multiprocessing``: they never re-run
the caller's ``__main__``, never fork a process that has threads, and can be
started from a daemonic process (a Celery worker's).

Protocol, over the child's stdin and stdout: frames of an 8-byte big-endian length
and a pickle. The parent sends ``(ObjectRef, body)``; the child answers with the
``PreparedObject`` (or the exception ``prepare_body`` raised). Each child has at
most one object in hand, and the parent reads answers in the order it sent the
objects, so results come back in fetch order and neither side can block the
other for good. Pickle is safe here: both ends are this package, on a private pipe.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING

from stocks_elt.errors import LoadError

if TYPE_CHECKING:
    from stocks_elt.lake.base import Lake
    from stocks_elt.warehouse.loader import ObjectRef, PreparedObject

logger = logging.getLogger(__name__)

_HEADER = 8


def _write_frame(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(_HEADER, "big"))
    stream.write(data)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> object | None:
    """The next frame's value, or None at the end of the stream."""
    header = stream.read(_HEADER)
    if len(header) < _HEADER:
        return None
    size = int.from_bytes(header, "big")
    data = stream.read(size)
    if len(data) < size:
        return None
    value: object = pickle.loads(data)  # noqa: S301 - this package's own frames
    return value


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """Answer frames until stdin ends (the child's main loop)."""
    from stocks_elt.warehouse.loader import prepare_body

    while True:
        request = _read_frame(stdin)
        if request is None:
            return
        assert isinstance(request, tuple)
        ref, body = request
        try:
            answer: object = prepare_body(ref, body)
        except Exception as exc:  # handed to the parent, raised there
            answer = exc
        _write_frame(stdout, answer)


class ParseWorkers:
    """A few child processes that prepare objects; results come back in order.

    Args:
        count: how many children to start.
    """

    def __init__(self, count: int) -> None:
        self._children: list[subprocess.Popen[bytes]] = []
        try:
            for _ in range(count):
                self._children.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "stocks_elt.warehouse.parse_worker"],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                    )
                )
        except OSError:
            self.close()
            raise

    def prepare(
        self, lake: Lake, refs: Sequence[ObjectRef]
    ) -> Iterator[PreparedObject]:
        """Yield each of ``refs`` prepared, in order; bodies are read here.

        Raises:
            LakeError: an object cannot be read.
            LoadError: a child died.
        """
        from stocks_elt.warehouse.loader import PreparedObject

        count = len(self._children)
        for index, ref in enumerate(refs[:count]):
            self._send(index, ref, lake.get(ref.key))
        for index, ref in enumerate(refs):
            slot = index % count
            answer = self._receive(slot, ref)
            following = index + count
            if following < len(refs):
                upcoming = refs[following]
                self._send(slot, upcoming, lake.get(upcoming.key))
            if isinstance(answer, BaseException):
                raise answer
            assert isinstance(answer, PreparedObject)
            yield answer

    def _send(self, slot: int, ref: ObjectRef, body: bytes) -> None:
        stdin = self._children[slot].stdin
        assert stdin is not None
        try:
            _write_frame(stdin, (ref, body))
        except BrokenPipeError:
            raise LoadError(f"the parse worker for {ref.key} has died") from None

    def _receive(self, slot: int, ref: ObjectRef) -> object:
        stdout = self._children[slot].stdout
        assert stdout is not None
        answer = _read_frame(stdout)
        if answer is None:
            raise LoadError(f"the parse worker for {ref.key} has died")
        return answer

    def close(self) -> None:
        """End the children: close their input, then wait (kill a stuck one)."""
        for child in self._children:
            if child.stdin is not None:
                with contextlib.suppress(OSError):
                    child.stdin.close()
        for child in self._children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()
        self._children.clear()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
