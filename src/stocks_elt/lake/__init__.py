"""
The raw lake: immutable API answers behind one small interface (``base.Lake``).

``open_lake(settings)`` picks the backend from the lake URL: ``file://`` is a local
folder (``LocalLake``), ``s3://bucket/prefix`` is S3 or MinIO (``S3Lake``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stocks_elt.errors import LakeError
from stocks_elt.lake.base import Lake, LakeObject
from stocks_elt.lake.keys import RAW_PREFIX, answer_key, read_answer_key

if TYPE_CHECKING:
    from stocks_elt.config import Settings

__all__ = [
    "RAW_PREFIX",
    "Lake",
    "LakeObject",
    "answer_key",
    "open_lake",
    "read_answer_key",
]


def open_lake(settings: Settings) -> Lake:
    """Return the lake ``settings.resolved_lake_url`` names.

    Nothing is contacted or created here: a local folder is created on the first
    write, an S3 bucket on the first write when it is missing.

    Raises:
        LakeError: the URL's scheme is neither ``file`` nor ``s3``.
    """
    url = settings.resolved_lake_url
    if url.startswith("file:"):
        from stocks_elt.lake.local import LocalLake

        return LocalLake(url)
    if url.startswith("s3://"):
        from stocks_elt.lake.s3 import S3Lake

        return S3Lake.from_settings(settings)
    raise LakeError(f"lake URL {url!r} is neither file:///path nor s3://bucket/prefix")
