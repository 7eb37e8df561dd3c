"""The Alpha Vantage client: symbols, HTTP calls, answer classification."""
