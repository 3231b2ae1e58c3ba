"""Real media for recording tests: track files made by FFmpeg's lavfi sources, manifests, and
measurements on composed files (ffprobe, mean brightness of a region of a frame)."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SIZE = "320x180"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)  # noqa: S603, S607


def make_camera(path: Path, seconds: float, source: str = "testsrc2=") -> None:
    ffmpeg("-f", "lavfi", "-i", f"{source}size={SIZE}:rate=15:duration={seconds}",
           "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", str(path))  # fmt: skip


def make_microphone(path: Path, seconds: float, frequency: int) -> None:
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={seconds}",
           "-c:a", "libopus", "-b:a", "32k", str(path))  # fmt: skip


def generate_tracks(folder: Path) -> Path:
    """Ana from 0 s to 7 s (test pattern + 440 Hz), Ben from 3 s to 7 s (white + 660 Hz)."""
    folder.mkdir(parents=True, exist_ok=True)
    make_camera(folder / "ana-camera.webm", 7)
    make_camera(folder / "ben-camera.webm", 4, source="color=c=white:")
    make_microphone(folder / "ana-mic.webm", 7, 440)
    make_microphone(folder / "ben-mic.webm", 4, 660)
    return folder


def manifest_data(recording_id: int) -> dict[str, Any]:
    def track(file: str, who: str, kind: str, codec: str, start_ms: int) -> dict[str, Any]:
        return {"file": file, "participant_id": who, "display_name": who.title(), "kind": kind, "codec": codec,
                "container": "webm", "start_ms": start_ms, "end_ms": 7000}  # fmt: skip

    return {
        "version": 1,
        "recording_id": recording_id,
        "started_at": datetime(2026, 11, 27, 9, 0, tzinfo=UTC).isoformat(),
        "tracks": [
            track("ana-camera.webm", "ana", "camera", "vp8", 0),
            track("ben-camera.webm", "ben", "camera", "vp8", 3000),
            track("ana-mic.webm", "ana", "audio", "opus", 0),
            track("ben-mic.webm", "ben", "audio", "opus", 3000),
        ],
    }


def spool_recording(spool: Path, tracks: Path, recording_id: int) -> Path:
    """Puts the generated tracks and a manifest where an SFU worker would have written them."""
    folder = spool / str(recording_id)
    shutil.copytree(tracks, folder)
    (folder / "manifest.json").write_text(json.dumps(manifest_data(recording_id)))
    return folder


def probe(path: Path) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],  # noqa: S607
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def decode_errors(path: Path) -> tuple[int, str]:
    done = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],  # noqa: S603, S607
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.returncode, done.stderr


def mean_brightness(path: Path, at_seconds: float, crop: str) -> float:
    """Mean luma (0-255) of region ``crop`` (w:h:x:y) of the frame at ``at_seconds``."""
    done = subprocess.run(  # noqa: S603
        ["ffmpeg", "-v", "error", "-ss", str(at_seconds), "-i", str(path), "-frames:v", "1",  # noqa: S607
         "-vf", f"crop={crop},format=gray", "-f", "rawvideo", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    pixels = done.stdout
    assert pixels, "no frame decoded"
    return sum(pixels) / len(pixels)


def generate_segmented_tracks(folder: Path) -> Path:
    """The SFU worker's formats: VP8 in IVF and Opus in Ogg, Ana's camera in two segments."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, seconds in [("ana-camera-0.ivf", 4), ("ana-camera-1.ivf", 3)]:
        ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate=15:duration={seconds}",
               "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", "-f", "ivf",
               str(folder / name))  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=7", "-c:a", "libopus", "-b:a", "32k", "-f", "ogg",
           str(folder / "ana-audio-0.ogg"))  # fmt: skip
    return folder


def segmented_manifest_data(recording_id: int) -> dict[str, Any]:
    camera = {"file": "ana-camera-0.ivf", "participant_id": "ana", "display_name": "", "kind": "camera",
              "codec": "vp8", "container": "ivf", "start_ms": 0, "end_ms": 7000,
              "segments": [{"file": "ana-camera-0.ivf", "start_ms": 0, "end_ms": 4000},
                           {"file": "ana-camera-1.ivf", "start_ms": 4000, "end_ms": 7000}]}  # fmt: skip
    audio = {"file": "ana-audio-0.ogg", "participant_id": "ana", "display_name": "", "kind": "audio",
             "codec": "opus", "container": "ogg", "start_ms": 0, "end_ms": 7000}  # fmt: skip
    return {"version": 1, "recording_id": recording_id, "started_at": "2026-11-27T09:00:00+00:00",
            "ended_ms": 7000, "tracks": [camera, audio]}  # fmt: skip
