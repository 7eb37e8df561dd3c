"""
The extract stage: symbols -> Alpha Vantage answers -> new objects in the raw lake.

Per symbol, in order, concurrently across symbols (``extract_concurrency`` threads,
paced by the shared quota ledger):

1. **Fetch strategy.** The stored history is ``max(trade_date)`` in
   ``raw.daily_prices``. When it is one of the 100 sessions ending at the last NYSE
   session on or before ``as_of``, ``outputsize=compact`` (100 rows) overlaps it and
   is enough. Otherwise the whole history is needed: ``full`` when the key allows
   it (``alpha_vantage_is_premium``), else ``compact`` and the outcome carries
   ``has_history_gap``.
2. **Functions.** Premium keys: TIME_SERIES_DAILY_ADJUSTED (it carries dividends
   and split coefficients), one call. Free keys: TIME_SERIES_DAILY + SPLITS +
   DIVIDENDS. Premium notices fall back (``full`` -> ``compact`` with a gap;
   DAILY_ADJUSTED -> the free trio), and the fallback is remembered for the rest
   of the run. SPLITS and DIVIDENDS are skipped when the daily series came back
   unchanged and both are already in the lake (no new session, so no new event):
   a same-day re-run costs one call per symbol.
3. **Storage.** A data answer is stored in the lake with its metadata
   (``stocks_elt.stages.answers``), unless it equals the newest stored answer of
   that function and symbol. Notices and errors are never stored.

Then, with what the quota leaves: OVERVIEW for each symbol whose sector
``raw.symbols`` does not know yet and that has no OVERVIEW object in the lake; and
LISTING_STATUS (one call for the whole universe, active and delisted symbols
each) when the lake holds none from the last 7 days; the active list is stored
after the delisted one (see ``fetch_listings``).

Delisted symbols: a symbol ``raw.symbols`` calls delisted whose stored history
reaches its last session is not asked for again (outcome ``unchanged``, no call).

Outcomes: ``fetched`` (something new stored), ``unchanged``, ``not_found``,
``failed`` (with the reason; the other symbols go on) and ``deferred``: the API
day's quota is spent, so the symbol was not (fully) fetched; it is fetched first
by the next run. Outcomes are recorded in ``audit.extract_outcomes``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg

from stocks_elt.alpha_vantage.client import AlphaVantageClient, ApiAnswer, OutputSize
from stocks_elt.alpha_vantage.parse import LISTING_STATUS
from stocks_elt.config import Settings
from stocks_elt.errors import (
    ApiNotice,
    DailyQuotaExhausted,
    ExtractError,
    LakeError,
    LakeUnavailable,
    SymbolNotFound,
    WarehouseError,
)
from stocks_elt.lake import open_lake
from stocks_elt.lake.keys import read_answer_key
from stocks_elt.market.calendar import (
    NEW_YORK,
    last_session_on_or_before,
    sessions_after,
)
from stocks_elt.market.symbols import parse_symbols
from stocks_elt.market.universe import ListingState
from stocks_elt.results import (
    OUTCOMES,
    ExtractResult,
    Outcome,
    SymbolOutcome,
)
from stocks_elt.stages.answers import AnswerStore, api_session
from stocks_elt.warehouse.audit import as_run_uuid
from stocks_elt.warehouse.audit.extract import (
    deferred_symbols,
    record_extract_outcomes,
)
from stocks_elt.warehouse.connection import connect
from stocks_elt.warehouse.sessions import final_sessions

logger = logging.getLogger(__name__)

#: Rows in a compact answer.
COMPACT_SESSIONS = 100
#: A LISTING_STATUS object younger than this is fresh enough.
LISTING_MAX_AGE = timedelta(days=7)
DEMO_SYMBOL = "IBM"


# -- planning --------------------------------------------------------------------


def plan_batches(settings: Settings, tickers: Sequence[str] | None) -> list[list[str]]:
    """Split the universe into batches of ``settings.batch_size`` symbols.

    Symbols an earlier run deferred (its latest outcome is ``deferred``) come
    first, even when they are not in ``tickers``: a deferral is a promise to fetch.

    Args:
        settings: the configuration.
        tickers: symbols to extract; None means ``settings.tickers``.

    Returns:
        Batches of validated, distinct symbols.

    Raises:
        InvalidSymbol: a ticker breaks the symbol rule (nothing is contacted).
        WarehouseError: the warehouse cannot be reached.
    """
    symbols = parse_symbols(tickers) if tickers is not None else settings.tickers
    with connect(settings) as conn:
        deferred = deferred_symbols(conn)
    ordered = list(dict.fromkeys([*deferred, *symbols]))
    size = settings.batch_size
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


def choose_output_size(
    last_stored: date | None, last_session: date, *, is_premium: bool
) -> tuple[OutputSize, bool]:
    """Pick ``compact`` or ``full`` for a symbol, and say whether a gap remains.

    Compact (the latest 100 sessions) is enough when the stored history's newest
    session is one of the 100 sessions ending at ``last_session``, so the answer
    overlaps it.

    Args:
        last_stored: the newest stored trade date of the symbol, or None.
        last_session: the last NYSE session on or before the run's date.
        is_premium: whether the key may ask for ``full``.

    Returns:
        The output size, and True when the history will have a gap (compact was
        not enough and the key cannot ask for full).
    """
    if last_stored is not None:
        missing = sessions_after(last_stored, last_session)
        if missing < COMPACT_SESSIONS:
            return "compact", False
    if is_premium:
        return "full", False
    return "compact", True


# -- the run ---------------------------------------------------------------------


def extract(
    settings: Settings,
    symbols: Sequence[str],
    *,
    run_id: str | None = None,
    as_of: date | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> ExtractResult:
    """Fetch ``symbols`` from Alpha Vantage and land every new answer in the lake.

    See the module docstring for the fetch strategy, the outcomes and the
    OVERVIEW/LISTING_STATUS policy.

    Args:
        settings: the configuration (key, limits, lake, warehouse).
        symbols: the symbols; validated here. Those an earlier run deferred are
            fetched first.
        run_id: the run's id; a UUID, or any text (stored as a UUID derived from
            it); None makes a new one.
        as_of: the run's date (default: today in New York).
        progress: called with ``(symbol, outcome)`` as each symbol finishes.

    Returns:
        The new lake keys and one outcome per symbol.

    Raises:
        InvalidSymbol: a symbol breaks the rule (nothing is contacted).
        WarehouseError: the warehouse (or the quota ledger in it) cannot be
            reached.
        LakeUnavailable: the lake's store cannot be reached.
    """
    wanted = parse_symbols(symbols)
    run_id = run_id or str(uuid.uuid4())
    run_uuid = as_run_uuid(run_id)
    as_of = as_of or datetime.now(NEW_YORK).date()
    lake = open_lake(settings)
    with connect(settings) as conn:
        state = _read_state(conn, wanted)
    ordered = [s for s in state.deferred if s in wanted]
    ordered += [s for s in wanted if s not in ordered]
    last_session = last_session_on_or_before(as_of)
    logger.info(
        "extract started run_id=%s symbols=%d as_of=%s last_session=%s",
        run_id,
        len(ordered),
        as_of,
        last_session,
    )
    with api_session(settings, lake, run_uuid) as (client, answers):
        run = _Run(settings, client, answers, state, last_session)
        outcomes = run.fetch_prices(ordered, progress)
        outcomes = run.fetch_overviews(outcomes)
        if any(item.outcome in ("fetched", "unchanged") for item in outcomes):
            run.fetch_listings()
        calls = client.calls_made
    result = ExtractResult(
        run_id=run_id,
        object_keys=tuple(run.object_keys),
        outcomes=tuple(outcomes),
        calls_made=calls,
    )
    with connect(settings) as conn:
        record_extract_outcomes(conn, run_id, result.outcomes)
    logger.info(
        "extract finished run_id=%s objects=%d calls=%d %s",
        run_id,
        len(result.object_keys),
        calls,
        " ".join(f"{name}={result.count(name)}" for name in OUTCOMES),
    )
    return result


@dataclass(frozen=True)
class _WarehouseState:
    deferred: list[str]
    last_stored: dict[str, date]
    with_sector: frozenset[str]
    final: dict[str, date]  # the last session of the symbols delisted


def _read_state(
    conn: psycopg.Connection[tuple[object, ...]], symbols: Sequence[str]
) -> _WarehouseState:
    last_stored: dict[str, date] = {}
    for symbol, newest in conn.execute(
        "select symbol, max(trade_date) from raw.daily_prices"
        " where symbol = any(%s) group by symbol",
        (list(symbols),),
    ).fetchall():
        assert isinstance(newest, date)
        last_stored[str(symbol)] = newest
    with_sector = frozenset(
        str(row[0])
        for row in conn.execute(
            "select symbol from raw.symbols where symbol = any(%s)"
            " and sector is not null",
            (list(symbols),),
        ).fetchall()
    )
    return _WarehouseState(
        deferred_symbols(conn), last_stored, with_sector, final_sessions(conn, symbols)
    )


@dataclass
class _Capabilities:
    """What the key turned out to allow; premium notices switch these off."""

    can_full: bool
    can_adjusted: bool
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, kind: str) -> None:
        with self.lock:
            if kind == "premium_outputsize":
                self.can_full = False
            elif kind == "premium_endpoint":
                self.can_adjusted = False


@dataclass
class _SymbolWork:
    """One symbol's work so far."""

    symbol: str
    keys: list[str] = field(default_factory=list)
    changed: bool = False
    has_gap: bool = False
    gap_reason: str | None = None

    def outcome(self, outcome: Outcome, reason: str | None = None) -> SymbolOutcome:
        return SymbolOutcome(
            symbol=self.symbol,
            outcome=outcome,
            reason=reason or self.gap_reason,
            object_keys=tuple(self.keys),
            # A gap is about what was fetched; a symbol not fetched is decided anew
            # by the next run.
            has_history_gap=self.has_gap and outcome in ("fetched", "unchanged"),
        )


class _Run:
    """The state of one extract run, shared by its worker threads."""

    def __init__(
        self,
        settings: Settings,
        client: AlphaVantageClient,
        answers: AnswerStore,
        state: _WarehouseState,
        last_session: date,
    ) -> None:
        self.settings = settings
        self.client = client
        self.answers = answers
        self.state = state
        self.last_session = last_session
        self.capabilities = _Capabilities(
            can_full=settings.alpha_vantage_is_premium,
            can_adjusted=settings.alpha_vantage_is_premium,
        )
        self.object_keys: list[str] = []
        self._keys_lock = threading.Lock()
        self.quota_spent = threading.Event()
        self.outage = threading.Event()
        self.quota_reason = ""

    # -- phase 1: prices and corporate actions -----------------------------------

    def fetch_prices(
        self,
        symbols: Sequence[str],
        progress: Callable[[str, str], None] | None,
    ) -> list[SymbolOutcome]:
        if not symbols:
            return []
        workers = min(self.settings.extract_concurrency, len(symbols))
        found: dict[str, SymbolOutcome] = {}
        with ThreadPoolExecutor(workers, thread_name_prefix="extract") as pool:
            futures = {pool.submit(self._fetch_symbol, s): s for s in symbols}
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except (LakeUnavailable, WarehouseError) as exc:
                    # An outage: every later symbol would fail the same way.
                    self.outage.set()
                    for other in futures:
                        other.cancel()
                    raise exc from None
                found[outcome.symbol] = outcome
                logger.info(
                    "extracted symbol=%s outcome=%s objects=%d gap=%s reason=%s",
                    outcome.symbol,
                    outcome.outcome,
                    len(outcome.object_keys),
                    outcome.has_history_gap,
                    outcome.reason,
                )
                if progress is not None:
                    progress(outcome.symbol, outcome.outcome)
        return [found[symbol] for symbol in symbols]

    def _fetch_symbol(self, symbol: str) -> SymbolOutcome:
        work = _SymbolWork(symbol)
        if self.outage.is_set():
            return work.outcome("deferred", "not fetched: the run stopped on an outage")
        if self.quota_spent.is_set():
            return work.outcome("deferred", self.quota_reason)
        if self.settings.is_demo_key and symbol != DEMO_SYMBOL:
            return work.outcome(
                "failed",
                f"the demo key serves only {DEMO_SYMBOL}; set ALPHA_VANTAGE_API_KEY "
                "to your own key (free at https://www.alphavantage.co/support/#api-key)",
            )
        refusal = self.client.key_refusal
        if refusal is not None:
            return work.outcome("failed", f"the API refused the key: {refusal}")
        final = self.state.final.get(symbol)
        stored = self.state.last_stored.get(symbol)
        if final is not None and stored is not None and stored >= final:
            return work.outcome(
                "unchanged",
                f"delisted: its history through its last session {final} is "
                "stored; not asked for again",
            )
        try:
            self._fetch_series(work)
        except DailyQuotaExhausted as exc:
            self.quota_reason = str(exc)
            self.quota_spent.set()
            return work.outcome("deferred", str(exc))
        except SymbolNotFound as exc:
            return work.outcome("not_found", str(exc))
        except (LakeUnavailable, WarehouseError):
            raise  # the lake or the ledger is gone: every symbol would fail alike
        except (ExtractError, LakeError) as exc:
            return work.outcome("failed", str(exc))
        except Exception as exc:  # one symbol's bug or surprise never stops the rest
            logger.exception("extract failed unexpectedly symbol=%s", symbol)
            message = self.client.redact(f"{type(exc).__name__}: {exc}")
            return work.outcome("failed", f"unexpected error: {message}")
        return work.outcome("fetched" if work.changed else "unchanged")

    def _fetch_series(self, work: _SymbolWork) -> None:
        symbol = work.symbol
        last_stored = self.state.last_stored.get(symbol)
        size, gap = choose_output_size(
            last_stored, self.last_session, is_premium=self.capabilities.can_full
        )
        self._note_gap(work, last_stored, gap)
        if self.capabilities.can_adjusted:
            try:
                self._store(
                    work, self._with_compact_fallback(work, size, adjusted=True)
                )
                return
            except ApiNotice as exc:
                if exc.kind != "premium_endpoint":
                    raise
                self.capabilities.refuse(exc.kind)
                logger.warning(
                    "falling back to TIME_SERIES_DAILY + SPLITS + DIVIDENDS "
                    "symbol=%s reason=premium endpoint",
                    symbol,
                )
        daily_changed = self._store(
            work, self._with_compact_fallback(work, size, adjusted=False)
        )
        if not daily_changed and all(
            self.answers.has_any(function, symbol)
            for function in ("SPLITS", "DIVIDENDS")
        ):
            logger.debug("corporate actions skipped symbol=%s reason=unchanged", symbol)
            return
        self._store(work, self.client.splits(symbol))
        self._store(work, self.client.dividends(symbol))

    def _with_compact_fallback(
        self, work: _SymbolWork, size: OutputSize, *, adjusted: bool
    ) -> ApiAnswer:
        fetch = self.client.daily_adjusted if adjusted else self.client.daily
        if size == "full":
            if self.capabilities.can_full:
                try:
                    return fetch(work.symbol, outputsize="full")
                except ApiNotice as exc:
                    if exc.kind != "premium_outputsize":
                        raise
                    self.capabilities.refuse(exc.kind)
                    logger.warning(
                        "falling back to outputsize=compact symbol=%s "
                        "reason=full is premium",
                        work.symbol,
                    )
            self._note_gap(work, self.state.last_stored.get(work.symbol), True)
        return fetch(work.symbol, outputsize="compact")

    def _note_gap(self, work: _SymbolWork, last_stored: date | None, gap: bool) -> None:
        if not gap:
            return
        work.has_gap = True
        stored = f"ends {last_stored}" if last_stored else "is empty"
        work.gap_reason = (
            f"history gap: the stored history {stored} and compact covers only the "
            f"latest {COMPACT_SESSIONS} sessions; a premium key "
            "(STOCKS_ELT_ALPHA_VANTAGE_IS_PREMIUM=true) can fetch the full history"
        )
        logger.warning(
            "history gap symbol=%s stored_until=%s", work.symbol, last_stored
        )

    # -- storage -------------------------------------------------------------------

    def _store(self, work: _SymbolWork | None, answer: ApiAnswer) -> bool:
        """Store ``answer`` unless it equals the newest stored one; True if new."""
        key = self.answers.store(answer)
        if key is None:
            return False
        with self._keys_lock:
            self.object_keys.append(key)
        if work is not None:
            work.keys.append(key)
            work.changed = True
        return True

    # -- phase 2 and 3: reference data with what the quota leaves ------------------

    def fetch_overviews(self, outcomes: list[SymbolOutcome]) -> list[SymbolOutcome]:
        needing = [
            item
            for item in outcomes
            if item.outcome in ("fetched", "unchanged")
            and item.symbol not in self.state.with_sector
            # the API has no OVERVIEW of a symbol that stopped trading
            and item.symbol not in self.state.final
            and not self.answers.has_any("OVERVIEW", item.symbol)
        ]
        if not needing or self.quota_spent.is_set() or self.client.key_refusal:
            return outcomes
        workers = min(self.settings.extract_concurrency, len(needing))
        added: dict[str, str] = {}
        with ThreadPoolExecutor(workers, thread_name_prefix="overview") as pool:
            for symbol, key in pool.map(
                self._fetch_overview, [i.symbol for i in needing]
            ):
                if key is not None:
                    added[symbol] = key
        return [
            SymbolOutcome(
                symbol=item.symbol,
                outcome="fetched",
                reason=item.reason,
                object_keys=(*item.object_keys, added[item.symbol]),
                has_history_gap=item.has_history_gap,
            )
            if item.symbol in added
            else item
            for item in outcomes
        ]

    def _fetch_overview(self, symbol: str) -> tuple[str, str | None]:
        if self.quota_spent.is_set():
            return symbol, None
        work = _SymbolWork(symbol)
        try:
            self._store(work, self.client.overview(symbol))
        except DailyQuotaExhausted as exc:
            self.quota_reason = str(exc)
            self.quota_spent.set()
        except (ExtractError, LakeError) as exc:
            logger.warning("overview skipped symbol=%s reason=%s", symbol, exc)
        return symbol, work.keys[0] if work.keys else None

    def fetch_listings(self) -> None:
        """LISTING_STATUS, the delisted list then the active one, each when the
        lake holds none younger than ``LISTING_MAX_AGE``.

        A ticker can be in both lists (an old company's delisted listing, a new
        company's active one under the same ticker), and the warehouse keeps the
        row of the answer fetched last. So the active list is stored whenever
        the delisted one is newer than it, even when it did not change: the
        active list is always the newer, and a reused ticker stays listed.
        """
        if self.quota_spent.is_set() or self.client.key_refusal:
            return
        delisted = self._fetch_listing("delisted", always=False)
        newest_active = self.answers.newest(LISTING_STATUS, None, {"state": "active"})
        behind = delisted is not None and (
            newest_active is None
            or read_answer_key(newest_active).name < read_answer_key(delisted).name
        )
        self._fetch_listing("active", always=behind)

    def _fetch_listing(self, state: ListingState, *, always: bool) -> str | None:
        """Fetch one list when it is due (or ``always``); return the newest key of
        that list in the lake afterwards."""
        newest = self.answers.newest(LISTING_STATUS, None, {"state": state})
        if newest is not None and not always:
            fetched_on = read_answer_key(newest).fetched_at.date()
            if datetime.now(UTC).date() - fetched_on < LISTING_MAX_AGE:
                return newest
        if self.quota_spent.is_set():
            return newest
        try:
            answer = self.client.listing_status(state=state)
            key = self.answers.store(answer, always=always)
        except DailyQuotaExhausted as exc:
            self.quota_spent.set()
            logger.info("listing skipped state=%s reason=%s", state, exc)
            return newest
        except (ExtractError, LakeError) as exc:
            logger.warning("listing skipped state=%s reason=%s", state, exc)
            return newest
        if key is None:
            return newest
        with self._keys_lock:
            self.object_keys.append(key)
        return key
