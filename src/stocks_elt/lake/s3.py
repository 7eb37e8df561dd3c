"""
The lake in S3 or any S3 protocol server (MinIO, moto): ``s3://bucket/prefix``.

Path-style addressing (MinIO's default and the only style a bare IP endpoint
supports). The bucket is created on the first write when it is missing. ``put``
first asks whether the key exists, then writes with ``If-None-Match: *``, so a
server that supports conditional writes (AWS S3 since 2024, MinIO, moto) refuses the
second of two racing writers; against one that does not, the head check still keeps
a sequential writer from overwriting. Metadata is S3 user metadata; its names travel
with ``-`` for ``_`` because proxies in front of S3 servers often drop header names
with underscores.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from stocks_elt.errors import LakeError, LakeUnavailable
from stocks_elt.lake.base import (
    QUARANTINE_REASON,
    Lake,
    LakeObject,
    check_metadata,
    reason_metadata,
)
from stocks_elt.lake.keys import RAW_PREFIX, check_key, quarantine_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from stocks_elt.config import Settings

logger = logging.getLogger(__name__)

_CONTENT_TYPES = {"json": "application/json", "csv": "text/csv"}
_EXISTS_CODES = frozenset({"PreconditionFailed", "412"})
_CONFLICT_CODES = frozenset({"ConditionalRequestConflict", "409"})
_CONFLICT_ATTEMPTS = 4
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_UNSUPPORTED_CODES = frozenset({"NotImplemented", "501"})
#: A call that reaches no server is tried again this many times, waiting 1, 2 and
#: 4 s: a lake server that restarts is waited for, a longer outage is one error.
#: (boto3's own retries of a refused connection are over within 0.75 s.)
RECONNECTS = 3
_RECONNECT_BACKOFF_SECONDS = 1.0
_UNREACHABLE = (
    EndpointConnectionError,
    ConnectionClosedError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ResponseStreamingError,
)
_T = TypeVar("_T")


def split_s3_url(url: str) -> tuple[str, str]:
    """Return ``(bucket, prefix)`` of ``s3://bucket/prefix`` (prefix without slashes
    at either end, possibly empty).

    Raises:
        LakeError: not an ``s3://`` URL with a bucket.
    """
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise LakeError(f"lake URL {url!r} is not s3://bucket/prefix")
    return parts.netloc, parts.path.strip("/")


class S3Lake(Lake):
    """A lake in an S3 bucket, under an optional prefix."""

    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        region: str = "us-east-1",
        client: S3Client | None = None,
    ) -> None:
        """Open the lake at ``url``; nothing is contacted until the first call.

        Args:
            url: ``s3://bucket/prefix``.
            endpoint_url: the S3 server (MinIO, moto); None for AWS.
            access_key_id: credentials; None uses boto3's usual chain
                (environment, profile, instance role).
            secret_access_key: the secret of ``access_key_id``.
            region: the bucket's region.
            client: a ready boto3 S3 client (tests); overrides the options above.

        Raises:
            LakeError: the URL is not ``s3://bucket/prefix``.
        """
        self.bucket, self.prefix = split_s3_url(url)
        self.url = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.region = region
        self._client = client or _make_client(
            endpoint_url, access_key_id, secret_access_key, region
        )
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()
        self._conditional_writes = True

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Lake:
        """Open the lake ``settings.resolved_lake_url`` names, with its endpoint and
        credentials."""
        key_id = settings.aws_access_key_id
        secret = settings.aws_secret_access_key
        return cls(
            settings.resolved_lake_url,
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=key_id.get_secret_value() if key_id else None,
            secret_access_key=secret.get_secret_value() if secret else None,
            region=settings.aws_default_region,
        )

    def __repr__(self) -> str:
        return f"S3Lake({self.url!r})"

    def _full_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _relative_key(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._bucket_lock:
            if self._bucket_ready:
                return
            try:
                self._patiently(
                    "head bucket", lambda: self._client.head_bucket(Bucket=self.bucket)
                )
            except ClientError as exc:
                if _code(exc) not in _MISSING_CODES | {"NoSuchBucket"}:
                    raise self._error("cannot reach bucket", exc) from exc
                self._create_bucket()
            except BotoCoreError as exc:
                raise self._error("cannot reach bucket", exc) from exc
            self._bucket_ready = True

    def _create_bucket(self) -> None:
        arguments: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._patiently(
                "create bucket", lambda: self._client.create_bucket(**arguments)
            )
        except ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise self._error("cannot create bucket", exc) from exc
        logger.info("created lake bucket bucket=%s", self.bucket)

    def put(self, key: str, body: bytes, metadata: Mapping[str, str]) -> bool:
        """Store ``body`` under ``key`` unless the key exists; never overwrites.

        Returns:
            True when written; False when the key already existed.

        Raises:
            LakeError: the key or metadata is malformed, or the server refused.
        """
        full_key = self._full_key(key)
        headers = {
            name.replace("_", "-"): value
            for name, value in check_metadata(metadata).items()
        }
        self._ensure_bucket()
        if self.head(key) is not None:
            logger.debug("lake object exists key=%s", key)
            return False
        arguments: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": full_key,
            "Body": body,
            "Metadata": headers,
            "ContentType": _CONTENT_TYPES.get(
                key.rpartition(".")[2], "application/octet-stream"
            ),
        }
        for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
            try:
                self._put_object(arguments)
            except ClientError as exc:
                code = _code(exc)
                if code in _EXISTS_CODES:
                    logger.debug("lake object written concurrently key=%s", key)
                    return False
                if code in _CONFLICT_CODES and attempt < _CONFLICT_ATTEMPTS:
                    # Another conditional write to this key is in flight: once it
                    # lands the key exists; if it failed, try again.
                    time.sleep(0.05 * attempt)
                    if self.head(key) is not None:
                        return False
                    continue
                raise self._error(f"cannot write {key}", exc) from exc
            except BotoCoreError as exc:
                raise self._error(f"cannot write {key}", exc) from exc
            break
        logger.debug("stored lake object key=%s bytes=%d", key, len(body))
        return True

    def _put_object(self, arguments: dict[str, Any]) -> None:
        if self._conditional_writes:
            try:
                self._patiently(
                    "put",
                    lambda: self._client.put_object(IfNoneMatch="*", **arguments),
                )
                return
            except ClientError as exc:
                if _code(exc) not in _UNSUPPORTED_CODES:
                    raise
            logger.warning(
                "lake server refuses conditional writes bucket=%s; "
                "relying on the head check",
                self.bucket,
            )
            self._conditional_writes = False
        self._patiently("put", lambda: self._client.put_object(**arguments))

    def get(self, key: str) -> bytes:
        """Return the body stored under ``key``.

        Raises:
            LakeError: no such key, or the server could not be reached.
        """
        full_key = self._full_key(key)

        def read() -> bytes:
            answer = self._client.get_object(Bucket=self.bucket, Key=full_key)
            body: bytes = answer["Body"].read()
            return body

        try:
            body = self._patiently("get", read)
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES | {"NoSuchBucket"}:
                raise LakeError(f"no lake object {key} in {self.url}") from None
            raise self._error(f"cannot read {key}", exc) from exc
        except BotoCoreError as exc:
            raise self._error(f"cannot read {key}", exc) from exc
        return body

    def head(self, key: str) -> LakeObject | None:
        """Return the object's size and metadata, or None when there is none.

        Raises:
            LakeError: the server could not be reached or refused.
        """
        try:
            full_key = self._full_key(key)
            answer = self._patiently(
                "head",
                lambda: self._client.head_object(Bucket=self.bucket, Key=full_key),
            )
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES | {"NoSuchBucket"}:
                return None
            raise self._error(f"cannot inspect {key}", exc) from exc
        except BotoCoreError as exc:
            raise self._error(f"cannot inspect {key}", exc) from exc
        metadata = {
            name.lower().replace("-", "_"): value
            for name, value in answer.get("Metadata", {}).items()
        }
        return LakeObject(key=key, size=answer["ContentLength"], metadata=metadata)

    def list(self, prefix: str = RAW_PREFIX) -> Iterator[LakeObject]:
        """Yield every object whose key starts with ``prefix``, in key order.

        Metadata is left empty: S3 listings do not carry it (use ``head``).
        """
        full_prefix = f"{self.prefix}/{prefix}" if self.prefix else prefix
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Prefix": full_prefix}
        try:
            while True:
                page = self._patiently(
                    "list", lambda: self._client.list_objects_v2(**arguments)
                )
                for item in page.get("Contents", []):
                    yield LakeObject(
                        key=self._relative_key(item["Key"]), size=item["Size"]
                    )
                if not page.get("IsTruncated"):
                    break
                arguments["ContinuationToken"] = page["NextContinuationToken"]
        except ClientError as exc:
            if _code(exc) == "NoSuchBucket":
                return
            raise self._error(f"cannot list {prefix}", exc) from exc
        except BotoCoreError as exc:
            raise self._error(f"cannot list {prefix}", exc) from exc

    def quarantine(self, key: str, reason: str) -> str:
        """Copy the object under ``key`` to ``quarantine/<key>``, then delete the
        original (S3 has no rename). A crash in between leaves both copies; the
        next refusal of the same object moves it again.

        Raises:
            LakeError: the server could not be reached or refused.
        """
        moved = quarantine_key(key)
        found = self.head(key)
        if found is None:
            logger.info("lake object already moved key=%s", key)
            return moved
        metadata = {
            name.replace("_", "-"): value for name, value in found.metadata.items()
        }
        metadata[QUARANTINE_REASON.replace("_", "-")] = reason_metadata(reason)
        source, target = self._full_key(key), self._full_key(moved)
        try:
            self._patiently(
                "copy",
                lambda: self._client.copy_object(
                    Bucket=self.bucket,
                    Key=target,
                    CopySource={"Bucket": self.bucket, "Key": source},
                    Metadata=metadata,
                    MetadataDirective="REPLACE",
                ),
            )
            self._patiently(
                "delete",
                lambda: self._client.delete_object(Bucket=self.bucket, Key=source),
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(f"cannot move {key} to {moved}", exc) from exc
        logger.warning("lake object moved key=%s to=%s reason=%s", key, moved, reason)
        return moved

    def _patiently(self, operation: str, call: Callable[[], _T]) -> _T:
        """Return ``call()``, tried again (up to ``RECONNECTS`` times, waiting 1, 2,
        4 s) while the server cannot be reached; its other errors pass at once."""
        for attempt in range(RECONNECTS + 1):
            try:
                return call()
            except _UNREACHABLE as exc:
                if attempt == RECONNECTS:
                    raise
                wait = _RECONNECT_BACKOFF_SECONDS * 2**attempt
                logger.warning(
                    "lake unreachable url=%s operation=%s attempt=%d wait=%.1f "
                    "reason=%s",
                    self.url,
                    operation,
                    attempt + 1,
                    wait,
                    " ".join(str(exc).split()),
                )
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, what: str, exc: Exception) -> LakeError:
        text = " ".join(str(exc).split())
        if isinstance(exc, BotoCoreError):  # no answer at all: the server is down
            tried = (
                f", tried {RECONNECTS} more times"
                if isinstance(exc, _UNREACHABLE)
                else ""
            )
            return LakeUnavailable(
                f"the lake {self.url} is unreachable ({what}{tried}): {text}"
            )
        return LakeError(f"lake {self.url}: {what}: {text}")


def _code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    if code:
        return code
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(status or "")


def _make_client(
    endpoint_url: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
    region: str,
) -> S3Client:
    config = Config(
        s3={"addressing_style": "path"},
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=10,
        read_timeout=60,
    )
    session = boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name=region,
    )
    client: S3Client = session.client("s3", endpoint_url=endpoint_url, config=config)
    return client
