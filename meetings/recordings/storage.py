"""Where a recording's files live: track files in the spool folder (local, written by an SFU
worker), the composed MP4 and thumbnail in Django's default storage (local or S3-compatible)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage


def spool_folder(recording_id: int) -> Path:
    return Path(settings.RECORDINGS_SPOOL_DIR) / str(int(recording_id))


def video_name(recording_id: int) -> str:
    return f"recordings/{int(recording_id)}/recording.mp4"


def thumbnail_name(recording_id: int) -> str:
    return f"recordings/{int(recording_id)}/thumbnail.jpg"


def store(local: Path, name: str) -> str:
    """Copies ``local`` into the storage under exactly ``name`` (replacing an earlier copy)."""
    if default_storage.exists(name):
        default_storage.delete(name)
    with local.open("rb") as handle:
        return default_storage.save(name, File(handle, name=local.name))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def presigned_url(name: str, *, expire_seconds: int, content_type: str, download_name: str | None) -> str | None:
    """A short-lived URL the storage serves ``name`` at by itself (an S3-compatible bucket), or
    ``None`` when the web process serves it (local files)."""
    if settings.FILE_STORAGE != "s3":
        return None
    parameters = {"ResponseContentType": content_type}
    if download_name:
        parameters["ResponseContentDisposition"] = f'attachment; filename="{download_name}"'
    url = default_storage.url  # S3Storage.url(name, parameters, expire, http_method)
    return str(url(name, parameters=parameters, expire=expire_seconds))  # type: ignore[call-arg]


def delete_stored(names: list[str]) -> None:
    for name in names:
        if name and default_storage.exists(name):
            default_storage.delete(name)


def delete_files(names: list[str], recording_id: int) -> None:
    """Removes the stored files and the spool folder; missing ones are fine."""
    delete_stored(names)
    shutil.rmtree(spool_folder(recording_id), ignore_errors=True)
