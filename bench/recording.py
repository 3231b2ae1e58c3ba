"""Recording composition benchmark (issue 5, item 8): 4 cameras x 60 s (720p VP8 + Opus) -> MP4.

The inputs (one VP8 720p/30 fps WebM and one Opus WebM per camera, each camera a different test
pattern) are generated once with FFmpeg's lavfi sources into ``var/bench/recording/`` and reused.
The composition is the production one (``meetings.recordings.compose``: gallery grid, audio
mix, H.264 + AAC, fast start) with the production defaults of ``OutputOptions`` unless options
say otherwise. Prints one JSON object: wall time, the speed as a multiple of real time, and the
CPU time FFmpeg used (medians of ``--runs`` compositions)::

    .venv/bin/python -m bench.recording [--seconds 60] [--preset veryfast] [--fps 15] [--size 1280x720] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from meetings.recordings.compose import OutputOptions, composition_args
from meetings.recordings.ffmpeg import probe, run_ffmpeg
from meetings.recordings.manifest import Manifest, Track, TrackKind

ROOT = Path(__file__).resolve().parent.parent
PATTERNS = ["testsrc2", "smptehdbars", "rgbtestsrc", "testsrc"]


def generate(folder: Path, cameras: int, seconds: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(cameras):
        video, audio = folder / f"cam{index}-{seconds}s.webm", folder / f"mic{index}-{seconds}s.webm"
        if not video.exists():
            print(f"generating {video.name}", file=sys.stderr)
            partial = video.with_suffix(".partial")
            source = f"{PATTERNS[index % len(PATTERNS)]}=size=1280x720:rate=30:duration={seconds}"
            subprocess.run(  # noqa: S603
                ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-c:v", "libvpx", "-deadline",  # noqa: S607
                 "realtime", "-cpu-used", "8", "-b:v", "1500k", "-g", "90", "-pix_fmt", "yuv420p", "-f", "webm",
                 str(partial)],
                check=True,
            )  # fmt: skip
            partial.rename(video)
        if not audio.exists():
            tone = f"sine=frequency={300 + 110 * index}:duration={seconds}:sample_rate=48000"
            subprocess.run(  # noqa: S603
                ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", tone, "-c:a", "libopus", "-b:a", "32k",  # noqa: S607
                 str(audio)],
                check=True,
            )  # fmt: skip


def manifest_for(cameras: int, seconds: int) -> Manifest:
    tracks: list[Track] = []
    for index in range(cameras):
        common = {"participant_id": f"p{index}", "display_name": f"Person {index}", "container": "webm"}
        end = seconds * 1000
        tracks.append(Track(file=f"cam{index}-{seconds}s.webm", kind=TrackKind.CAMERA, codec="vp8",
                            start_ms=0, end_ms=end, **common))  # type: ignore[arg-type]  # fmt: skip
        tracks.append(Track(file=f"mic{index}-{seconds}s.webm", kind=TrackKind.AUDIO, codec="opus",
                            start_ms=0, end_ms=end, **common))  # type: ignore[arg-type]  # fmt: skip
    return Manifest(recording_id=1, started_at=datetime.now(UTC), tracks=tracks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=60)
    defaults = OutputOptions()
    parser.add_argument("--preset", default=defaults.preset)
    parser.add_argument("--fps", type=int, default=defaults.fps)
    parser.add_argument("--size", default=f"{defaults.width}x{defaults.height}")
    parser.add_argument("--crf", type=int, default=defaults.crf)
    parser.add_argument("--runs", type=int, default=3, help="compositions to time; the median is reported")
    arguments = parser.parse_args()
    width, height = (int(part) for part in arguments.size.split("x"))
    options = OutputOptions(width=width, height=height, fps=arguments.fps, preset=arguments.preset, crf=arguments.crf)

    folder = ROOT / "var" / "bench" / "recording"
    generate(folder, arguments.cameras, arguments.seconds)
    manifest = manifest_for(arguments.cameras, arguments.seconds)
    output = folder / "out.mp4"
    args = composition_args(manifest, folder, output, options)
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(arguments.runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        run_ffmpeg("ffmpeg", args, duration_ms=manifest.duration_ms)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    result = probe("ffprobe", output)
    print(json.dumps({
        "benchmark": "recording composition",
        "cameras": arguments.cameras,
        "input": "VP8 1280x720 30 fps ~1.5 Mbit/s + Opus 48 kHz, per camera",
        "seconds": arguments.seconds,
        "output": {"size": arguments.size, "fps": options.fps, "preset": options.preset, "crf": options.crf,
                   "bytes": output.stat().st_size, "duration_ms": result.duration_ms,
                   "streams": {"video": result.video_streams, "audio": result.audio_streams}},
        "runs": arguments.runs,
        "wall_seconds": round(wall, 2),
        "realtime_multiple": round(arguments.seconds / wall, 2),
        "realtime_multiple_each_run": [round(arguments.seconds / w, 2) for w in walls],
        "ffmpeg_cpu_seconds": round(cpu, 2),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "ffmpeg": subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True)  # noqa: S607
        .stdout.splitlines()[0],
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
