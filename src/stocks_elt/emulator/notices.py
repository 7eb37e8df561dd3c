"""
The texts the real service answers with instead of data (ALPHA_VANTAGE.md §5-§6).

Every one is sent with HTTP 200 as a small JSON object. The limit notices keep the
real wording, including its numbers, whatever limits the emulator is configured
with: clients classify them by phrase, not by number.
"""

from __future__ import annotations

DOCUMENTATION_URL = "https://www.alphavantage.co/documentation/"

MISSING_KEY = (
    "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 "
    "seconds."
)
PREMIUM_ENDPOINT = (
    "Thank you for using Alpha Vantage! This is a premium endpoint. You may "
    "subscribe to any of the premium plans at https://www.alphavantage.co/premium/ "
    "to instantly unlock all premium endpoints"
)
OUTPUTSIZE_PREMIUM = (
    "Thank you for using Alpha Vantage! The outputsize=full parameter value is a "
    "premium feature for the TIME_SERIES_DAILY endpoint. You may subscribe to any of "
    "the premium plans at https://www.alphavantage.co/premium/ to instantly unlock "
    "all premium features"
)
PER_MINUTE = (
    "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls "
    "per minute and 500 calls per day. Please visit "
    "https://www.alphavantage.co/premium/ if you would like to target a higher API "
    "call frequency."
)
BURST = (
    "Thank you for using Alpha Vantage! Please consider spreading out your free API "
    "requests more sparingly (1 request per second). You may subscribe to any of the "
    "premium plans at https://www.alphavantage.co/premium/ to lift the free key rate "
    "limit (25 requests per day), raise the per-second burst limit, and instantly "
    "unlock all premium endpoints"
)
DAILY_CAP_TEMPLATE = (
    "We have detected your API key as {key} and our standard API rate limit is 25 "
    "requests per day. Please subscribe to any of the premium plans at "
    "https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."
)
DEMO = (
    "The **demo** API key is for demo purposes only. Please claim your free API key "
    "at (https://www.alphavantage.co/support/#api-key) to explore our full API "
    "offerings. It takes fewer than 20 seconds."
)


def invalid_call(function: str) -> str:
    """Return the "Invalid API call" text (unknown symbol, bad parameters)."""
    return (
        "Invalid API call. Please retry or visit the documentation "
        f"({DOCUMENTATION_URL}) for {function}."
    )


def unknown_function(function: str) -> str:
    """Return the text for an empty or unknown ``function`` parameter."""
    return f"This API function ({function}) does not exist."


def daily_cap(key: str) -> str:
    """Return the newer daily-cap text, which echoes the caller's key."""
    return DAILY_CAP_TEMPLATE.format(key=key)
