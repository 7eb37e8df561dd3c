"""
Ticker symbols: the one rule every stage applies before a symbol reaches a URL, a
lake key or SQL.

A symbol is 1 to 20 characters of upper-case ASCII letters, digits, ``.`` and ``-``,
starting with a letter or digit (``IBM``, ``BRK.B``, ``TSCO.LON``, ``RDS-A``).
Lower-case input is normalised to upper case (tickers are case-insensitive on every
exchange the API serves, and users type ``ibm``); surrounding whitespace is
stripped. Anything else, including look-alike unicode letters, is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stocks_elt.errors import InvalidSymbol

MAX_SYMBOL_LENGTH = 20
_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.\-]*")
RULE = (
    f"1-{MAX_SYMBOL_LENGTH} characters of A-Z, 0-9, '.' and '-', "
    "starting with a letter or digit (for example IBM, BRK.B, TSCO.LON)"
)


def normalize_symbol(raw: object) -> str:
    """Return the canonical form of one symbol.

    Args:
        raw: what the user or a file gave; surrounding whitespace is stripped and
            ASCII lower case is raised to upper case.

    Returns:
        The symbol in upper case.

    Raises:
        InvalidSymbol: the value breaks the rule; the message quotes it and the rule.
    """
    if not isinstance(raw, str):
        raise InvalidSymbol(f"symbol {raw!r} is not text; a symbol is {RULE}")
    text = raw.strip()
    # Only ASCII may be upper-cased: str.upper() would turn look-alikes such as the
    # Latin small dotless i into plain ASCII letters.
    if not text.isascii():
        raise InvalidSymbol(
            f"symbol {raw!r} has non-ASCII characters; a symbol is {RULE}"
        )
    symbol = text.upper()
    if not symbol:
        raise InvalidSymbol(f"symbol {raw!r} is empty; a symbol is {RULE}")
    if len(symbol) > MAX_SYMBOL_LENGTH:
        raise InvalidSymbol(
            f"symbol {raw[:30]!r}... is {len(symbol)} characters long; "
            f"a symbol is {RULE}"
        )
    if not _SYMBOL.fullmatch(symbol) or ".." in symbol:
        raise InvalidSymbol(f"symbol {raw!r} is not allowed; a symbol is {RULE}")
    return symbol


def parse_symbols(raw: str | Iterable[object]) -> tuple[str, ...]:
    """Return the symbols of a comma-separated string or a list, deduplicated.

    Order is kept (first occurrence wins), so the user's order is the fetch order.

    Raises:
        InvalidSymbol: one of the values breaks the rule; the message names it.
    """
    items: Iterable[object] = raw.split(",") if isinstance(raw, str) else raw
    seen: dict[str, None] = {}
    for item in items:
        if isinstance(item, str) and not item.strip() and isinstance(raw, str):
            continue  # "IBM,,MSFT" or a trailing comma: nothing was meant there
        seen.setdefault(normalize_symbol(item), None)
    return tuple(seen)
