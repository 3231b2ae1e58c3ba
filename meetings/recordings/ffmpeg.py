"""Running FFmpeg and ffprobe as subprocesses (in the Celery worker: blocking is fine here,
there is no event loop). Progress comes from ``-progress pipe:1`` and is reported as percent."""

from __future__ import annotations

import ctypes
import json
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ProgressCallback = Callable[[int], None]


class FfmpegError(Exception):
    """FFmpeg or ffprobe failed; ``detail`` is the end of its error output."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(f"{message}: {detail}" if detail else message)
        self.detail = detail


def progress_percent(out_time_us: int, duration_ms: int) -> int:
    if duration_ms <= 0:
        return 0
    return max(0, min(99, int(out_time_us / 1000 * 100 / duration_ms)))


def parse_progress_line(line: str) -> int | None:
    """The output time in microseconds from one ``-progress`` line, if it carries one."""
    key, _, value = line.strip().partition("=")
    if key not in {"out_time_us", "out_time_ms"}:  # both are microseconds (a historic misnomer)
        return None
    try:
        return int(value)
    except ValueError:
        return None  # "N/A" before the first frame


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec (Linux): FFmpeg is killed if the Celery worker process dies, so a
    redelivered task never races an orphan still writing into the work folder."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run_ffmpeg(binary: str, args: list[str], *, duration_ms: int, on_progress: ProgressCallback | None = None) -> None:
    """Runs FFmpeg to completion; ``on_progress(percent)`` is called whenever the percent grows."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(  # noqa: S603  (fixed binary, arguments built by us)
            [binary, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            preexec_fn=_die_with_parent,  # one FFmpeg at a time per process: preexec_fn is safe here
        )
        last = -1
        try:
            assert process.stdout is not None
            for line in process.stdout:
                out_time = parse_progress_line(line)
                if out_time is None or on_progress is None:
                    continue
                percent = progress_percent(out_time, duration_ms)
                if percent > last:
                    last = percent
                    on_progress(percent)
        except BaseException:
            process.kill()
            process.wait()
            raise
        code = process.wait()
        if code != 0:
            errors.seek(0)
            tail = errors.read()[-2000:].decode(errors="replace").strip()
            raise FfmpegError(f"ffmpeg exited with {code}", tail)


@dataclass(frozen=True)
class Probe:
    video_streams: int
    audio_streams: int
    duration_ms: int
    codecs: tuple[str, ...]


def probe(binary: str, path: Path, timeout: float = 60.0) -> Probe:
    """What ffprobe sees in ``path``; ``FfmpegError`` when it is not a readable media file."""
    command = [binary, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as exc:
        raise FfmpegError("ffprobe timed out") from exc
    if done.returncode != 0:
        raise FfmpegError("ffprobe cannot read it", done.stderr.strip()[-500:])
    data: dict[str, Any] = json.loads(done.stdout or "{}")
    streams: list[dict[str, Any]] = data.get("streams", [])
    kinds = [stream.get("codec_type") for stream in streams]
    try:
        duration = float(data.get("format", {}).get("duration", "0"))
    except ValueError:
        duration = 0.0
    return Probe(
        video_streams=kinds.count("video"),
        audio_streams=kinds.count("audio"),
        duration_ms=round(duration * 1000),
        codecs=tuple(str(stream.get("codec_name", "")) for stream in streams),
    )
