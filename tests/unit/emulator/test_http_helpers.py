from __future__ import annotations

import gzip

import pytest

from stocks_elt.emulator.render import Response
from stocks_elt.emulator.server import _accepts_gzip


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip, deflate", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("*", True),
        ("", False),
        ("identity", False),
        ("gzip;q=0", False),
        ("gzip;q=0.0, identity", False),
    ],
)
def test_accept_encoding_is_read_with_its_weights(header: str, accepted: bool) -> None:
    assert _accepts_gzip(header) is accepted


def test_the_gzipped_body_is_stable_and_decompresses_to_the_body() -> None:
    body = b'{\n    "symbol": "IBM"\n}' * 20
    first, second = Response(200, body), Response(200, body)
    assert first.gzipped == second.gzipped  # no timestamp in the header
    assert gzip.decompress(first.gzipped) == body
    assert ("Content-Encoding", "gzip") in first.headers(is_gzipped=True)
    assert ("Content-Length", str(len(first.gzipped))) in first.headers(True)


def test_html_and_tiny_bodies_are_sent_as_they_are() -> None:
    assert not Response(503, b"<html>" * 100, "text/html").is_compressible
    assert not Response(200, b"{}").is_compressible
