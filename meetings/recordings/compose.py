"""FFmpeg filter graph and arguments for a recording, built from its manifest (pure functions).

Layout on a canvas of ``size`` at ``fps``, for the whole recording:
- gallery: a fixed grid with one tile per camera track; each track's files are scaled into their
  tile and shifted by their start offset, so a tile is black while its camera is absent;
- presentation (while a screen share is present): the screen large on the left, the cameras in a
  strip on the right; outside the screen's intervals the gallery shows.
Audio: every audio file delayed by its start offset and mixed, then padded / cut to the duration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from meetings.recordings.manifest import Manifest, Piece, Track, TrackKind


@dataclass(frozen=True)
class OutputOptions:
    width: int = 1280
    height: int = 720
    fps: int = 15
    preset: str = "veryfast"
    crf: int = 26
    audio_bitrate: str = "128k"
    threads: int = 0  # 0: FFmpeg chooses
    scaler: str = "fast_bilinear"


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def grid_boxes(count: int, width: int, height: int) -> list[Box]:
    """``count`` tiles in the most square grid that fits, row by row."""
    if count <= 0:
        return []
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    tile_w, tile_h = _even(width / cols), _even(height / rows)
    return [Box(x=(i % cols) * tile_w, y=(i // cols) * tile_h, w=tile_w, h=tile_h) for i in range(count)]


def presentation_boxes(cameras: int, width: int, height: int) -> tuple[Box, list[Box]]:
    """The screen share's box (left, large) and the camera strip's boxes (right column)."""
    strip_w = _even(width / 5) if cameras else 0
    screen = Box(x=0, y=0, w=_even(width - strip_w), h=_even(height))
    if not cameras:
        return screen, []
    per_column = max(cameras, 4)
    tile_h = _even(height / per_column)
    return screen, [Box(x=screen.w, y=i * tile_h, w=strip_w, h=tile_h) for i in range(cameras)]


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"


def screen_intervals(manifest: Manifest) -> list[tuple[int, int]]:
    """Merged [start, end) intervals (ms) during which some screen share is present."""
    spans = sorted((p.start_ms, p.end_ms) for t in manifest.tracks_of(TrackKind.SCREEN) for p in t.pieces())
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class Graph:
    inputs: list[str]  # file names, in input order
    filters: list[str]
    video_label: str
    audio_label: str

    @property
    def filter_complex(self) -> str:
        return ";\n".join(self.filters)


class _Builder:
    def __init__(self, manifest: Manifest, options: OutputOptions) -> None:
        self.manifest = manifest
        self.options = options
        self.inputs: list[str] = []
        self.filters: list[str] = []
        self._labels = 0

    def label(self, prefix: str) -> str:
        self._labels += 1
        return f"{prefix}{self._labels}"

    def input_index(self, piece: Piece) -> int:
        self.inputs.append(piece.file)
        return len(self.inputs) - 1

    def canvas(self) -> str:
        o = self.options
        out = self.label("bg")
        duration = _seconds(self.manifest.duration_ms)
        self.filters.append(f"color=c=black:s={o.width}x{o.height}:r={o.fps}:d={duration},format=yuv420p[{out}]")
        return out

    def place(self, base: str, sources: list[str], pieces: list[Piece], box: Box) -> str:
        """Overlay the video pieces (labels ``sources``) of one track into ``box`` of ``base``."""
        for source, piece in zip(sources, pieces, strict=True):
            tile = self.label("t")
            self.filters.append(
                f"[{source}]fps={self.options.fps},"
                f"scale={box.w}:{box.h}:force_original_aspect_ratio=decrease:flags={self.options.scaler},"
                f"pad={box.w}:{box.h}:(ow-iw)/2:(oh-ih)/2,setsar=1,"
                f"setpts=PTS-STARTPTS+{_seconds(piece.start_ms)}/TB[{tile}]"
            )
            out = self.label("v")
            self.filters.append(f"[{base}][{tile}]overlay=x={box.x}:y={box.y}:eof_action=pass:repeatlast=0[{out}]")
            base = out
        return base

    def video_sources(self, track: Track, copies: int) -> list[list[str]]:
        """Per piece of ``track``, ``copies`` labels of its decoded video."""
        result: list[list[str]] = []
        for piece in track.pieces():
            index = self.input_index(piece)
            if copies == 1:
                result.append([f"{index}:v:0"])
                continue
            labels = [self.label("s") for _ in range(copies)]
            self.filters.append(f"[{index}:v:0]split={copies}{''.join(f'[{lab}]' for lab in labels)}")
            result.append(labels)
        return result

    def video(self) -> str:
        cameras = self.manifest.tracks_of(TrackKind.CAMERA)
        screens = self.manifest.tracks_of(TrackKind.SCREEN)
        o = self.options
        copies = 2 if screens else 1
        camera_sources = [self.video_sources(track, copies) for track in cameras]
        gallery = self.canvas()
        for track, sources, box in zip(
            cameras, camera_sources, grid_boxes(len(cameras), o.width, o.height), strict=True
        ):
            gallery = self.place(gallery, [s[0] for s in sources], track.pieces(), box)
        if not screens:
            return gallery
        screen_box, strip = presentation_boxes(len(cameras), o.width, o.height)
        slide = self.canvas()
        for track in screens:
            sources = self.video_sources(track, 1)
            slide = self.place(slide, [s[0] for s in sources], track.pieces(), screen_box)
        for track, sources, box in zip(cameras, camera_sources, strip, strict=True):
            slide = self.place(slide, [s[1] for s in sources], track.pieces(), box)
        shown = "+".join(f"between(t,{_seconds(a)},{_seconds(b)})" for a, b in screen_intervals(self.manifest))
        out = self.label("v")
        self.filters.append(f"[{gallery}][{slide}]overlay=x=0:y=0:enable='{shown}'[{out}]")
        return out

    def audio(self) -> str:
        duration = _seconds(self.manifest.duration_ms)
        delayed: list[str] = []
        for track in self.manifest.tracks_of(TrackKind.AUDIO):
            for piece in track.pieces():
                index = self.input_index(piece)
                out = self.label("a")
                self.filters.append(
                    f"[{index}:a:0]aresample=48000:async=1,aformat=sample_fmts=fltp:channel_layouts=stereo,"
                    f"asetpts=PTS-STARTPTS,adelay={piece.start_ms}:all=1[{out}]"
                )
                delayed.append(out)
        mixed = self.label("mix")
        if not delayed:
            self.filters.append(f"anullsrc=r=48000:cl=stereo,atrim=0:{duration}[{mixed}]")
            return mixed
        if len(delayed) == 1:
            self.filters.append(f"[{delayed[0]}]anull[{mixed}]")
        else:
            inputs = "".join(f"[{label}]" for label in delayed)
            self.filters.append(f"{inputs}amix=inputs={len(delayed)}:duration=longest:normalize=0[{mixed}]")
        out = self.label("aout")
        self.filters.append(f"[{mixed}]apad,atrim=0:{duration}[{out}]")
        return out


def build_graph(manifest: Manifest, options: OutputOptions) -> Graph:
    builder = _Builder(manifest, options)
    video = builder.video()
    audio = builder.audio()
    return Graph(inputs=builder.inputs, filters=builder.filters, video_label=video, audio_label=audio)


def composition_args(
    manifest: Manifest, folder: Path, output: Path, options: OutputOptions, *, stats_period: float = 0.5
) -> list[str]:
    """Arguments (after the ``ffmpeg`` binary) that compose ``manifest``'s files into ``output``."""
    graph = build_graph(manifest, options)
    args = ["-hide_banner", "-nostdin", "-y", "-v", "error", "-progress", "pipe:1", "-stats_period", str(stats_period)]
    for name in graph.inputs:
        args += ["-i", str(folder / name)]
    args += [
        "-filter_complex",
        graph.filter_complex,
        "-map",
        f"[{graph.video_label}]",
        "-map",
        f"[{graph.audio_label}]",
    ]
    args += ["-c:v", "libx264", "-preset", options.preset, "-crf", str(options.crf), "-pix_fmt", "yuv420p"]
    args += ["-r", str(options.fps), "-g", str(options.fps * 4)]
    if options.threads:
        args += ["-threads", str(options.threads)]
    args += ["-c:a", "aac", "-b:a", options.audio_bitrate, "-ar", "48000", "-ac", "2"]
    args += ["-t", _seconds(manifest.duration_ms), "-movflags", "+faststart", str(output)]
    return args


def thumbnail_args(video: Path, output: Path, duration_ms: int, width: int = 320) -> list[str]:
    """One JPEG frame from a third into the composed video (past the first arrivals)."""
    at = _seconds(duration_ms // 3)
    return ["-hide_banner", "-nostdin", "-y", "-v", "error", "-ss", at, "-i", str(video),
            "-frames:v", "1", "-vf", f"scale={width}:-2", "-q:v", "4", str(output)]  # fmt: skip
