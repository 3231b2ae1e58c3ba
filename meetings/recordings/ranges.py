"""Serving a stored file with HTTP Range support (``<video>`` seeking needs 206 answers)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse, StreamingHttpResponse

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The single byte range ``(first, last)`` asked for, ``None`` for the whole file.
    Raises ``ValueError`` when the range cannot be satisfied (answered with 416)."""
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # absent, multiple ranges or another unit: send the whole file (allowed by RFC 9110)
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # suffix: the last N bytes
        length = int(last_text)
        if length == 0:
            raise ValueError("empty suffix range")
        return max(0, size - length), size - 1
    first = int(first_text)
    last = min(int(last_text), size - 1) if last_text else size - 1
    if first >= size or last < first:
        raise ValueError("range not satisfiable")
    return first, last


def _read(handle: IO[bytes], first: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(first)
        remaining = length
        while remaining > 0:
            block = handle.read(min(CHUNK, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        handle.close()


def file_response(
    name: str, content_type: str, range_header: str, *, download_name: str | None = None
) -> HttpResponse | StreamingHttpResponse | FileResponse:
    size = default_storage.size(name)
    try:
        wanted = parse_range(range_header, size)
    except ValueError:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    handle = default_storage.open(name, "rb")
    if wanted is None:
        whole = FileResponse(
            handle, content_type=content_type, as_attachment=download_name is not None, filename=download_name or ""
        )
        whole["Accept-Ranges"] = "bytes"
        return whole
    first, last = wanted
    partial = StreamingHttpResponse(_read(handle, first, last - first + 1), status=206, content_type=content_type)
    partial["Content-Range"] = f"bytes {first}-{last}/{size}"
    partial["Content-Length"] = str(last - first + 1)
    partial["Accept-Ranges"] = "bytes"
    if download_name:
        partial["Content-Disposition"] = f'attachment; filename="{download_name}"'
    return partial
