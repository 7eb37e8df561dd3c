"""Daily stock prices from Alpha Vantage into a Postgres warehouse."""

__version__ = "0.1.0"
