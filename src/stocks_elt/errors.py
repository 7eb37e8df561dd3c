"""
Errors stocks_elt raises on purpose.

* StocksEltError
  + ConfigError                a setting is missing or malformed (exit code 2)
  + InvalidSymbol              (also a ValueError) refused before any I/O (exit code 2)
  + UnknownSymbol              the warehouse has no trace of the symbol (exit code 2)
  + ExtractError
    - RateLimited              the API answered with a burst or per-minute note; retry
    - DailyQuotaExhausted      the day's calls are spent; remaining symbols deferred
    - ApiNotice                premium, demo or other information note instead of data
    - ApiError                 "Error Message" body or an HTTP error status
    - SymbolNotFound           an empty answer: the API knows no such symbol
  + LakeError
    - LakeUnavailable          the store cannot be reached (an outage); stops the run
  + WarehouseError
  + LoadError
  + QualityGateFailed          a blocking check failed; the chain stops (exit code 1)
  + TransformError             dbt build failed (exit code 1)
  + ExportError                the export folder cannot be used (exit code 2)
  + NothingToExport            the warehouse has no marts or rows yet (exit code 1)

A message names the symbol, the object, the row and the reason. Library exceptions
are translated at the boundary with ``raise XError(...) from exc``.
"""

from __future__ import annotations


class StocksEltError(Exception):
    """Base of every error stocks_elt raises on purpose."""

    exit_code: int = 1


class ConfigError(StocksEltError):
    """A setting is missing or malformed; the message names the variable."""

    exit_code = 2


class InvalidSymbol(StocksEltError, ValueError):  # noqa: N818 - the domain's word
    """A ticker symbol that breaks the naming rule; refused before any I/O."""

    exit_code = 2


class UnknownSymbol(StocksEltError):  # noqa: N818 - the domain's word
    """A well-formed symbol the warehouse has never seen (report, status)."""

    exit_code = 2


class ExtractError(StocksEltError):
    """Extraction from Alpha Vantage failed for a symbol or a call."""


class RateLimited(ExtractError):  # noqa: N818 - the domain's word
    """The API answered with a burst or per-minute note; the call can be retried."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DailyQuotaExhausted(ExtractError):  # noqa: N818 - the domain's word
    """The day's quota is spent; the remaining symbols are deferred, not failed."""


class ApiNotice(ExtractError):  # noqa: N818 - the domain's word
    """A premium, demo or other information note came back instead of data."""

    def __init__(self, message: str, kind: str = "information") -> None:
        super().__init__(message)
        self.kind = kind


class ApiError(ExtractError):
    """An "Error Message" body, or an HTTP status that is an error."""


class SymbolNotFound(ExtractError):  # noqa: N818 - the domain's word
    """An empty answer: the API has no data for the symbol."""


class LakeError(StocksEltError):
    """Reading or writing the raw lake failed."""


class LakeUnavailable(LakeError):  # noqa: N818 - the domain's word
    """The lake's store cannot be reached: every later read or write would fail."""


class WarehouseError(StocksEltError):
    """The warehouse cannot be reached or migrated."""


class LoadError(StocksEltError):
    """A lake object could not be loaded; nothing of it was written."""


class QualityGateFailed(StocksEltError):  # noqa: N818 - the domain's word
    """A blocking data-quality check failed; the chain stops."""


class TransformError(StocksEltError):
    """dbt build failed: a model did not build or a test failed."""


class ExportError(StocksEltError):
    """The export folder cannot be created, written or replaced; nothing changed."""

    exit_code = 2


class NothingToExport(StocksEltError):  # noqa: N818 - says what happened
    """The warehouse has no marts, or no rows in them, to export yet."""
