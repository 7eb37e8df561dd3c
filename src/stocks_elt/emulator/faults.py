"""
Fault injection: a small language that says which calls fail, and how.

A spec is a comma-separated list of rules::

    rule   := kind ":" when ["@" target]
    kind   := 500 | 502 | 503 | drop | truncate | malformed | empty | latency=<time>
    time   := <number>ms | <number>s                 (latency=300ms, latency=1.5s)
    when   := <probability>    0 < p <= 1: each matching call fails with chance p
            | first=N          the first N matching calls
            | after=N          every matching call after the first N
            | every=N          the N-th, 2N-th, 3N-th ... matching calls
            | nth=N            only the N-th matching call
    target := SYMBOL | FUNCTION | SYMBOL/FUNCTION    (default: every call)

Examples: ``503:first=2@MSFT`` (MSFT's first two calls get HTTP 503, then it
works), ``503:0.2,drop:0.1,latency=300ms:0.5@MSFT``, ``truncate:every=5@SPLITS``.

Kinds: ``500``/``502``/``503`` answer that HTTP status with a small HTML page;
``drop`` closes the connection without answering; ``truncate`` announces the full
Content-Length, sends half the body and closes; ``malformed`` sends the first half
of the body as a complete (broken) 200 answer; ``empty`` answers ``{}``;
``latency`` delays the answer and then answers normally.

Each rule counts the calls that match its target, so "first=2" means the first two
calls of that symbol whatever other symbols do. Probabilities are drawn from a hash
of (seed, rule position, call ordinal), so a run with the same seed and the same
call order fails on the same calls. Every matching rule counts the call; latencies
add up, and the first failing rule in spec order decides the failure.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass

FAILURE_KINDS = ("500", "502", "503", "drop", "truncate", "malformed", "empty")
KINDS = (*FAILURE_KINDS, "latency")

_RULE = re.compile(
    r"""^(?P<kind>[a-z0-9]+)(?:=(?P<arg>[0-9.]+(?:ms|s)))?
        :(?P<when>[a-z]+=\d+|[0-9.]+)
        (?:@(?P<target>[A-Za-z0-9.\-_/]+))?$""",
    re.VERBOSE,
)


class FaultSpecError(ValueError):
    """A fault spec that does not parse; the message quotes the rule and the rule."""


@dataclass(frozen=True)
class FaultRule:
    """One parsed rule of a fault spec."""

    text: str
    kind: str
    latency_seconds: float
    mode: str  # "probability", "first", "after", "every", "nth"
    value: float
    symbol: str | None
    function: str | None

    def matches(self, function: str, symbol: str | None) -> bool:
        """Tell whether a call of ``function`` for ``symbol`` is this rule's target."""
        if self.function is not None and function != self.function:
            return False
        return self.symbol is None or (
            symbol is not None and symbol.upper() == self.symbol
        )


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one call: an optional failure kind and a delay in seconds."""

    kind: str | None = None
    latency_seconds: float = 0.0


NO_FAULT = FaultDecision()


def _parse_duration(text: str, rule: str) -> float:
    number = text[:-2] if text.endswith("ms") else text[:-1]
    try:
        value = float(number)
    except ValueError:
        raise FaultSpecError(f"fault rule {rule!r}: bad duration {text!r}") from None
    return value / 1000.0 if text.endswith("ms") else value


def parse_fault_spec(spec: str, functions: frozenset[str]) -> tuple[FaultRule, ...]:
    """Parse a fault spec into rules.

    Args:
        spec: the spec text (see the module docstring); empty means no faults.
        functions: the API function names, to tell ``@SPLITS`` (a function) from
            ``@MSFT`` (a symbol).

    Returns:
        The rules in spec order.

    Raises:
        FaultSpecError: a rule does not parse; the message names it and why.
    """
    rules: list[FaultRule] = []
    for raw in spec.split(","):
        text = raw.strip()
        if not text:
            continue
        match = _RULE.match(text)
        if match is None:
            raise FaultSpecError(
                f"fault rule {text!r} does not parse; expected KIND:WHEN[@TARGET], "
                "for example 503:first=2@MSFT or latency=300ms:0.5"
            )
        kind, arg, when, target = match.group("kind", "arg", "when", "target")
        if kind not in KINDS:
            raise FaultSpecError(
                f"fault rule {text!r}: unknown kind {kind!r}; kinds are "
                f"{', '.join(KINDS)}"
            )
        if (kind == "latency") != (arg is not None):
            raise FaultSpecError(
                f"fault rule {text!r}: only latency takes a duration, and it needs "
                "one (latency=300ms)"
            )
        latency = _parse_duration(arg, text) if arg is not None else 0.0
        if "=" in when:
            mode, _, number = when.partition("=")
            if mode not in ("first", "after", "every", "nth"):
                raise FaultSpecError(
                    f"fault rule {text!r}: unknown trigger {mode!r}; triggers are a "
                    "probability, first=N, after=N, every=N and nth=N"
                )
            value = float(int(number))
            if mode in ("every", "nth") and value < 1:
                raise FaultSpecError(f"fault rule {text!r}: {mode} needs N >= 1")
        else:
            mode = "probability"
            try:
                value = float(when)
            except ValueError:
                raise FaultSpecError(
                    f"fault rule {text!r}: {when!r} is not a probability"
                ) from None
            if not 0.0 < value <= 1.0:
                raise FaultSpecError(
                    f"fault rule {text!r}: probability {when} is not in (0, 1]"
                )
        symbol: str | None = None
        function: str | None = None
        if target:
            head, _, tail = target.partition("/")
            if tail:
                symbol, function = head.upper(), tail.upper()
            elif head.upper() in functions:
                function = head.upper()
            else:
                symbol = head.upper()
            if function is not None and function not in functions:
                raise FaultSpecError(
                    f"fault rule {text!r}: unknown function {function!r}"
                )
        rules.append(FaultRule(text, kind, latency, mode, value, symbol, function))
    return tuple(rules)


class FaultPlan:
    """Decides, call by call, which faults fire; thread-safe.

    Args:
        rules: parsed rules (see :func:`parse_fault_spec`).
        seed: the seed of the probability draws.
    """

    def __init__(self, rules: tuple[FaultRule, ...], seed: int = 0) -> None:
        self.rules = rules
        self.seed = seed
        self._counts = [0] * len(rules)
        self._lock = threading.Lock()

    def _draw(self, position: int, ordinal: int) -> float:
        digest = hashlib.blake2b(
            f"{self.seed}:{position}:{ordinal}".encode(), digest_size=8
        ).digest()
        return int.from_bytes(digest, "big") / 2.0**64

    def decide(self, function: str, symbol: str | None) -> FaultDecision:
        """Count one call and return the faults that fire for it.

        Args:
            function: the call's function parameter.
            symbol: its symbol parameter, if any.

        Returns:
            The failure kind (None for none) and the total injected latency.
        """
        if not self.rules:
            return NO_FAULT
        kind: str | None = None
        latency = 0.0
        with self._lock:
            for position, rule in enumerate(self.rules):
                if not rule.matches(function, symbol):
                    continue
                self._counts[position] += 1
                ordinal = self._counts[position]
                if rule.mode == "probability":
                    fires = self._draw(position, ordinal) < rule.value
                elif rule.mode == "first":
                    fires = ordinal <= rule.value
                elif rule.mode == "after":
                    fires = ordinal > rule.value
                elif rule.mode == "every":
                    fires = ordinal % int(rule.value) == 0
                else:  # nth
                    fires = ordinal == rule.value
                if not fires:
                    continue
                if rule.kind == "latency":
                    latency += rule.latency_seconds
                elif kind is None:
                    kind = rule.kind
        if kind is None and latency == 0.0:
            return NO_FAULT
        return FaultDecision(kind, latency)
