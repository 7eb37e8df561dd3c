"""
Keeping the API key out of every text that could be logged, raised or stored.

The key travels only in the outgoing request. Any other text that could carry it (a
notice that echoes it, an HTTP library's message quoting a URL) passes through
``redact`` first.
"""

from __future__ import annotations

import re

REDACTED = "***"
#: Alpha Vantage's public key: printed in its own notices, nothing to hide.
PUBLIC_KEY = "demo"

#: ``apikey=...`` in a query string, whatever the key (also someone else's).
_QUERY_KEY = re.compile(r"(?i)(apikey=)[^&\s'\"<>]*")
#: The daily-cap notice's "We have detected your API key as <KEY> and ...".
_DETECTED_KEY = re.compile(r"(?i)(detected your API key as )\S+")


def redact(text: str, secret: str | None = None) -> str:
    """Return ``text`` with the API key replaced by ``***``.

    Removes the given ``secret`` wherever it appears, any ``apikey=`` query value
    and the key the daily-cap notice echoes ("detected your API key as ...").

    Args:
        text: any text that may carry the key.
        secret: the key in use, when known (the public ``demo`` key is left alone:
            the demo notice names it).

    Returns:
        The text without the key.
    """
    if secret and secret != PUBLIC_KEY:
        text = text.replace(secret, REDACTED)
    text = _QUERY_KEY.sub(rf"\g<1>{REDACTED}", text)
    return _DETECTED_KEY.sub(rf"\g<1>{REDACTED}", text)
