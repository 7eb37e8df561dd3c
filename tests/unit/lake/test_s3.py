"""S3Lake against stubbed clients: conditional writes, races, a server that is down."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber

from stocks_elt.errors import LakeError, LakeUnavailable
from stocks_elt.lake.s3 import RECONNECTS, S3Lake, split_s3_url

KEY = "raw/alpha_vantage/function=SPLITS/symbol=IBM/ingest_date=2026-11-27/a.json"
FULL_KEY = f"lake/{KEY}"


@pytest.fixture
def stubbed() -> Iterator[tuple[S3Lake, Stubber]]:
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="id",
        aws_secret_access_key="secret",
    )
    with Stubber(client) as stubber:
        yield S3Lake("s3://bucket/lake", client=client), stubber
        stubber.assert_no_pending_responses()


def _put_params(conditional: bool) -> dict[str, object]:
    params: dict[str, object] = {
        "Bucket": "bucket",
        "Key": FULL_KEY,
        "Body": ANY,
        "Metadata": {"http-status": "200"},
        "ContentType": "application/json",
    }
    if conditional:
        params["IfNoneMatch"] = "*"
    return params


def _missing(stubber: Stubber) -> None:
    stubber.add_client_error(
        "head_object", "404", http_status_code=404, expected_params=None
    )


def test_urls_split_into_bucket_and_prefix() -> None:
    assert split_s3_url("s3://bucket") == ("bucket", "")
    assert split_s3_url("s3://bucket/a/b/") == ("bucket", "a/b")
    with pytest.raises(LakeError):
        split_s3_url("file:///tmp")


def test_a_missing_bucket_is_created_and_the_write_is_conditional(
    stubbed: tuple[S3Lake, Stubber],
) -> None:
    lake, stubber = stubbed
    stubber.add_client_error("head_bucket", "404", http_status_code=404)
    stubber.add_response("create_bucket", {}, {"Bucket": "bucket"})
    _missing(stubber)
    stubber.add_response("put_object", {}, _put_params(conditional=True))

    assert lake.put(KEY, b"{}", {"http_status": "200"}) is True


def test_a_server_without_conditional_writes_falls_back_to_the_head_check(
    stubbed: tuple[S3Lake, Stubber],
) -> None:
    lake, stubber = stubbed
    stubber.add_response("head_bucket", {})
    _missing(stubber)
    stubber.add_client_error("put_object", "NotImplemented", http_status_code=501)
    stubber.add_response("put_object", {}, _put_params(conditional=False))
    _missing(stubber)
    stubber.add_response("put_object", {}, _put_params(conditional=False))

    assert lake.put(KEY, b"{}", {"http_status": "200"}) is True
    # Remembered: the second write does not try the conditional form again.
    assert lake.put(KEY, b"{}", {"http_status": "200"}) is True


def test_losing_a_race_to_a_conditional_write_reports_the_key_existed(
    stubbed: tuple[S3Lake, Stubber],
) -> None:
    lake, stubber = stubbed
    stubber.add_response("head_bucket", {})
    _missing(stubber)
    stubber.add_client_error("put_object", "PreconditionFailed", http_status_code=412)

    assert lake.put(KEY, b"{}", {"http_status": "200"}) is False


def test_a_conflicting_write_in_flight_is_waited_for(
    stubbed: tuple[S3Lake, Stubber],
) -> None:
    lake, stubber = stubbed
    stubber.add_response("head_bucket", {})
    _missing(stubber)
    stubber.add_client_error(
        "put_object", "ConditionalRequestConflict", http_status_code=409
    )
    stubber.add_response(
        "head_object", {"ContentLength": 2, "Metadata": {}}, expected_params=None
    )

    assert lake.put(KEY, b"{}", {"http_status": "200"}) is False


def test_metadata_names_travel_with_dashes_and_come_back_with_underscores(
    stubbed: tuple[S3Lake, Stubber],
) -> None:
    lake, stubber = stubbed
    stubber.add_response(
        "head_object",
        {"ContentLength": 2, "Metadata": {"http-status": "200", "fetched-at": "t"}},
        {"Bucket": "bucket", "Key": FULL_KEY},
    )

    found = lake.head(KEY)

    assert found is not None
    assert dict(found.metadata) == {"http_status": "200", "fetched_at": "t"}


def test_a_refused_write_is_a_lake_error_naming_the_key(
    stubbed: tuple[S3Lake, Stubber],
) -> None:
    lake, stubber = stubbed
    stubber.add_response("head_bucket", {})
    _missing(stubber)
    stubber.add_client_error("put_object", "AccessDenied", http_status_code=403)

    with pytest.raises(
        LakeError, match=r"cannot write raw/alpha_vantage/.*AccessDenied"
    ):
        lake.put(KEY, b"{}", {"http_status": "200"})


class _ServerBackAfter:
    """An S3 client whose server answers only after ``failures`` refused calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def head_object(self, **params: object) -> dict[str, object]:
        self.calls += 1
        if self.calls <= self.failures:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
        return {"ContentLength": 3, "Metadata": {"http-status": "200"}}


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The back-off sleeps of the lake, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr("stocks_elt.lake.s3.time.sleep", slept.append)
    return slept


def test_a_lake_server_back_within_the_retries_is_waited_for(
    waits: list[float],
) -> None:
    client = _ServerBackAfter(failures=RECONNECTS)
    lake = S3Lake("s3://bucket/lake", client=client)  # type: ignore[arg-type]

    found = lake.head(KEY)

    assert found is not None
    assert found.size == 3
    assert client.calls == RECONNECTS + 1
    assert waits == [1.0, 2.0, 4.0]


def test_a_lake_server_that_stays_down_is_one_error_naming_the_lake(
    waits: list[float],
) -> None:
    client = _ServerBackAfter(failures=RECONNECTS + 1)
    lake = S3Lake("s3://bucket/lake", client=client)  # type: ignore[arg-type]

    with pytest.raises(LakeUnavailable) as raised:
        lake.head(KEY)

    assert client.calls == RECONNECTS + 1
    assert len(waits) == RECONNECTS
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("the lake s3://bucket/lake is unreachable")
    assert f"tried {RECONNECTS} more times" in message
