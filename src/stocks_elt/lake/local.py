"""
The lake in a local folder: one file per object, its metadata in a hidden sidecar.

    <root>/raw/alpha_vantage/function=.../symbol=IBM/ingest_date=.../<name>.json
    <root>/raw/alpha_vantage/function=.../symbol=IBM/ingest_date=.../.<name>.json.meta

``put`` writes the body to a temporary file in ``<root>/.tmp/``, flushes it to disk,
then ``os.link``s it to its key. ``link`` fails when the name exists, so of two
processes racing on one key exactly one wins, and an existing object is never
replaced; a crash leaves at most a temporary file, never a partial object. The
winner then writes the sidecar the same way (temporary file, then an atomic
rename). Temporary files older than an hour are what a killed writer left: the
first write of each process removes them. Names starting with ``.`` are the
store's own and are never listed.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from pathlib import Path
from urllib.parse import unquote, urlsplit

from stocks_elt.errors import LakeError
from stocks_elt.lake.base import (
    QUARANTINE_REASON,
    Lake,
    LakeObject,
    check_metadata,
    reason_metadata,
)
from stocks_elt.lake.keys import RAW_PREFIX, check_key, quarantine_key

logger = logging.getLogger(__name__)

_META_SUFFIX = ".meta"
_TEMPORARY_FOLDER = ".tmp"
_TEMPORARY_PREFIX = ".tmp-"
#: A temporary file this old belongs to a writer that died: no write takes an hour.
STALE_TEMPORARY_SECONDS = 3600.0


def path_from_file_url(url: str) -> Path:
    """Return the folder a ``file://`` URL names (``file:///abs`` or ``file://rel``).

    Raises:
        LakeError: the URL is not a ``file://`` URL or names no folder.
    """
    parts = urlsplit(url)
    if parts.scheme != "file":
        raise LakeError(f"lake URL {url!r} is not a file:// URL")
    netloc = "" if parts.netloc in ("", "localhost") else parts.netloc
    text = unquote(netloc + parts.path)
    if not text:
        raise LakeError(f"lake URL {url!r} names no folder")
    return Path(text)


class LocalLake(Lake):
    """A lake in a local folder (created on first write)."""

    def __init__(self, root: Path | str) -> None:
        """Open the lake rooted at ``root`` (a folder path, or a ``file://`` URL)."""
        path = (
            path_from_file_url(root)
            if isinstance(root, str) and root.startswith("file:")
            else Path(root)
        )
        self.root = path.resolve()
        self.url = self.root.as_uri()
        self._swept = False

    def __repr__(self) -> str:
        return f"LocalLake({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    @staticmethod
    def _meta_path(path: Path) -> Path:
        return path.with_name(f".{path.name}{_META_SUFFIX}")

    def _temporary_folder(self) -> Path:
        folder = self.root / _TEMPORARY_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        if not self._swept:
            self._swept = True
            removed = sweep_stale_temporaries(folder)
            if removed:
                logger.warning(
                    "removed temporary files a killed writer left folder=%s files=%d",
                    folder,
                    removed,
                )
        return folder

    def put(self, key: str, body: bytes, metadata: Mapping[str, str]) -> bool:
        """Store ``body`` under ``key`` unless the key exists; never overwrites.

        Returns:
            True when written; False when the key already existed.

        Raises:
            LakeError: the key or metadata is malformed, or the folder is not
                writable.
        """
        path = self._path(key)
        meta = json.dumps(dict(check_metadata(metadata)), sort_keys=True).encode()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            scratch = self._temporary_folder()
            temporary = _write_temporary(scratch, body)
            try:
                os.link(temporary, path)
            except FileExistsError:
                logger.debug("lake object exists key=%s", key)
                return False
            finally:
                os.unlink(temporary)
            meta_temporary = _write_temporary(scratch, meta)
            os.replace(meta_temporary, self._meta_path(path))
            _sync_folder(path.parent)
        except OSError as exc:
            raise LakeError(
                f"cannot write lake object {key} in {self.root}: {exc}"
            ) from exc
        logger.debug("stored lake object key=%s bytes=%d", key, len(body))
        return True

    def get(self, key: str) -> bytes:
        """Return the body stored under ``key``.

        Raises:
            LakeError: no such key, or the file cannot be read.
        """
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise LakeError(f"no lake object {key} in {self.root}") from None
        except OSError as exc:
            raise LakeError(
                f"cannot read lake object {key} in {self.root}: {exc}"
            ) from exc

    def head(self, key: str) -> LakeObject | None:
        """Return the object's size and metadata, or None when there is none.

        Raises:
            LakeError: the key is malformed or the sidecar is unreadable.
        """
        path = self._path(key)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LakeError(
                f"cannot stat lake object {key} in {self.root}: {exc}"
            ) from exc
        return LakeObject(key=key, size=size, metadata=self._read_metadata(key, path))

    def _read_metadata(self, key: str, path: Path) -> dict[str, str]:
        try:
            loaded = json.loads(self._meta_path(path).read_bytes())
        except FileNotFoundError:
            # Only between the winner's link and its sidecar rename (or after a
            # crash in that window): the body is whole, its metadata is unknown.
            return {}
        except (OSError, ValueError) as exc:
            raise LakeError(
                f"cannot read metadata of lake object {key}: {exc}"
            ) from exc
        if not isinstance(loaded, dict):
            raise LakeError(f"metadata of lake object {key} is not a JSON object")
        return {str(name): str(value) for name, value in loaded.items()}

    def list(self, prefix: str = RAW_PREFIX) -> Iterator[LakeObject]:
        """Yield every object whose key starts with ``prefix``, in key order.

        Metadata is left empty (use ``head`` for it), as in the S3 listing.
        """
        start = prefix.rpartition("/")[0]
        folder = self.root.joinpath(*start.split("/")) if start else self.root
        base = f"{start}/" if start else ""
        yield from self._walk(folder, base, prefix)

    def _walk(self, folder: Path, base: str, prefix: str) -> Iterator[LakeObject]:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise LakeError(f"cannot list lake folder {folder}: {exc}") from exc
        # A folder "d" holds keys "d/...", so it sorts as "d/" among its siblings:
        # that makes this depth-first walk yield keys in plain string order.
        ordered = sorted(
            (
                entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name,
                entry,
            )
            for entry in entries
            if not entry.name.startswith(".")
        )
        for sort_name, entry in ordered:
            key = base + sort_name
            if sort_name.endswith("/"):
                if key.startswith(prefix) or prefix.startswith(key):
                    yield from self._walk(Path(entry.path), key, prefix)
            elif key.startswith(prefix) and entry.is_file(follow_symlinks=False):
                yield LakeObject(
                    key=key, size=entry.stat(follow_symlinks=False).st_size
                )

    def quarantine(self, key: str, reason: str) -> str:
        """Move the object under ``key`` to ``quarantine/<key>`` (a rename).

        Raises:
            LakeError: the folder cannot be written.
        """
        moved = quarantine_key(key)
        source = self._path(key)
        target = self._path(moved)
        if not source.exists():
            logger.info("lake object already moved key=%s", key)
            return moved
        try:
            metadata = self._read_metadata(key, source)
        except LakeError:
            metadata = {}
        metadata[QUARANTINE_REASON] = reason_metadata(reason)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            meta = json.dumps(metadata, sort_keys=True).encode()
            os.replace(
                _write_temporary(self._temporary_folder(), meta),
                self._meta_path(target),
            )
            os.rename(source, target)
            with suppress(FileNotFoundError):
                os.unlink(self._meta_path(source))
            _sync_folder(target.parent)
            _sync_folder(source.parent)
        except OSError as exc:
            raise LakeError(
                f"cannot move lake object {key} to {moved} in {self.root}: {exc}"
            ) from exc
        logger.warning("lake object moved key=%s to=%s reason=%s", key, moved, reason)
        return moved


def sweep_stale_temporaries(
    folder: Path, older_than: float = STALE_TEMPORARY_SECONDS
) -> int:
    """Remove the temporary files in ``folder`` older than ``older_than`` seconds.

    Returns:
        How many were removed.
    """
    cutoff = time.time() - older_than
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not entry.name.startswith(_TEMPORARY_PREFIX):
            continue
        with suppress(FileNotFoundError):
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
    return removed


def _write_temporary(folder: Path, body: bytes) -> str:
    """Write ``body`` to a new hidden file in ``folder``, flushed to disk."""
    descriptor, name = tempfile.mkstemp(dir=folder, prefix=_TEMPORARY_PREFIX)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(name)
        raise
    return name


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk, so a new name survives a power cut."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the data is synced anyway
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
