"""The FFmpeg filter graph and arguments built from a manifest (pure, no FFmpeg run)."""

from __future__ import annotations

import json
from pathlib import Path

from meetings.recordings.compose import (
    Box,
    OutputOptions,
    build_graph,
    composition_args,
    grid_boxes,
    presentation_boxes,
    screen_intervals,
)
from meetings.recordings.manifest import parse_manifest
from tests.recordings.media import manifest_data


def manifest_with_screen() -> str:
    data = manifest_data(3)
    screen = {"file": "ana-screen.webm", "participant_id": "ana", "display_name": "Ana", "kind": "screen",
              "codec": "vp8", "container": "webm", "start_ms": 1000, "end_ms": 4000}  # fmt: skip
    data["tracks"].append(screen)
    return json.dumps(data)


def test_the_grid_is_as_square_as_possible() -> None:
    assert grid_boxes(1, 1280, 720) == [Box(0, 0, 1280, 720)]
    assert grid_boxes(2, 1280, 720) == [Box(0, 0, 640, 720), Box(640, 0, 640, 720)]
    assert [(b.x, b.y) for b in grid_boxes(4, 1280, 720)] == [(0, 0), (640, 0), (0, 360), (640, 360)]
    assert len(grid_boxes(5, 1280, 720)) == 5
    assert grid_boxes(5, 1280, 720)[3] == Box(0, 360, 426, 360)


def test_the_presentation_puts_the_screen_large_and_the_cameras_in_a_strip() -> None:
    screen, strip = presentation_boxes(2, 1280, 720)
    assert screen == Box(0, 0, 1024, 720)
    assert strip == [Box(1024, 0, 256, 180), Box(1024, 180, 256, 180)]


def test_each_track_is_delayed_by_its_start_offset() -> None:
    graph = build_graph(parse_manifest(json.dumps(manifest_data(3))), OutputOptions())

    text = graph.filter_complex
    assert graph.inputs == ["ana-camera.webm", "ben-camera.webm", "ana-mic.webm", "ben-mic.webm"]
    assert "setpts=PTS-STARTPTS+0.000/TB" in text
    assert "setpts=PTS-STARTPTS+3.000/TB" in text
    assert "adelay=0:all=1" in text
    assert "adelay=3000:all=1" in text
    assert "amix=inputs=2:duration=longest:normalize=0" in text
    assert "color=c=black:s=1280x720:r=15:d=7.000" in text
    assert "overlay=x=640:y=0:eof_action=pass" in text


def test_a_screen_share_switches_to_the_presentation_while_present() -> None:
    graph = build_graph(parse_manifest(manifest_with_screen()), OutputOptions())

    assert "ana-screen.webm" in graph.inputs
    assert "split=2" in graph.filter_complex
    assert "enable='between(t,1.000,4.000)'" in graph.filter_complex
    assert screen_intervals(parse_manifest(manifest_with_screen())) == [(1000, 4000)]


def test_the_arguments_ask_for_h264_aac_fast_start_and_progress() -> None:
    manifest = parse_manifest(json.dumps(manifest_data(3)))
    args = composition_args(manifest, Path("/spool/3"), Path("/out/recording.mp4"), OutputOptions(preset="ultrafast"))

    joined = " ".join(args)
    assert "-i /spool/3/ana-camera.webm" in joined
    assert "-progress pipe:1" in joined
    assert "-c:v libx264 -preset ultrafast" in joined
    assert "-c:a aac" in joined
    assert "-movflags +faststart" in joined
    assert args[-1] == "/out/recording.mp4"
    assert args[args.index("-t") + 1] == "7.000"
