"""Recording a track in the worker without decoding: RTP from real encoders (aiortc's VP8 and
Opus, on the test's side) goes into segment files that FFmpeg reads and decodes without errors;
segments start on key frames; a lost packet costs the frames up to the next key frame, which
the recorder asks for."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import pytest
from aiortc.codecs import get_encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from media_workers.recording.ogg_opus import OggOpusWriter
from media_workers.recording.track import TrackRecorder
from media_workers.rtp_rewrite import InboundPacket

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
FPS = 30


def probe(path: Path) -> dict[str, object]:
    out = subprocess.run(  # noqa: S603
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", str(path)],  # noqa: S607
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    result: dict[str, object] = json.loads(out.stdout)
    return result


def decodes_cleanly(path: Path) -> None:
    run = subprocess.run(  # noqa: S603
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],  # noqa: S607
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == "", run.stderr


class VideoSource:
    """aiortc's VP8 encoder on a moving test picture, packetised as the browser would."""

    def __init__(self) -> None:
        self.encoder = get_encoder(VP8)
        self.sequence = 1000
        self.force_keyframe = False
        self.index = 0

    def next_packets(self) -> list[InboundPacket]:
        frame = av.VideoFrame(320, 240, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([(self.index * 7) % 256]) * plane.buffer_size)
        frame.pts = self.index * (90000 // FPS)
        frame.time_base = Fraction(1, 90000)
        payloads, timestamp = self.encoder.encode(frame, force_keyframe=self.force_keyframe)
        self.force_keyframe = False
        self.index += 1
        packets = []
        for n, payload in enumerate(payloads):
            last = n == len(payloads) - 1
            packets.append(InboundPacket(self.sequence & 0xFFFF, timestamp, last, False, payload, None, None))
            self.sequence += 1
        return packets


def test_video_goes_into_keyframe_started_ivf_segments_that_decode(tmp_path: Path) -> None:
    source = VideoSource()
    asked: list[int] = []

    def ask() -> None:
        asked.append(source.index)
        source.force_keyframe = True

    recorder = TrackRecorder(
        tmp_path, "cam", participant="alice", kind="camera", codec="vp8", started_at=0.0,
        segment_seconds=1.0, request_keyframe=ask,
    )  # fmt: skip
    for index in range(FPS * 3):
        for packet in source.next_packets():
            recorder.forward(None, packet, "vp8", b"", 0.5 + index / FPS)
    track = recorder.close()

    assert len(track.segments) >= 2, track
    assert track.segments[0].start_ms == 500  # the first frame came half a second in
    for before, after in zip(track.segments, track.segments[1:], strict=False):
        assert after.start_ms >= before.end_ms
    total = 0
    for segment in track.segments:
        path = tmp_path / segment.file
        info = probe(path)
        stream = info["streams"][0]  # type: ignore[index]
        assert (stream["codec_name"], stream["width"], stream["height"]) == ("vp8", 320, 240)
        assert int(stream["nb_read_frames"]) == segment.frames
        decodes_cleanly(path)  # starts on a key frame, or the decoder would complain
        total += segment.frames
    assert total == FPS * 3
    assert asked, "the recorder asks for a key frame before a segment is due"


def test_a_lost_packet_costs_the_frames_until_the_next_keyframe(tmp_path: Path) -> None:
    source = VideoSource()
    recorder = TrackRecorder(
        tmp_path, "cam", participant="alice", kind="camera", codec="vp8", started_at=0.0,
        request_keyframe=lambda: setattr(source, "force_keyframe", True),
    )  # fmt: skip
    for index in range(FPS * 2):
        packets = source.next_packets()
        if index == 20:
            packets = packets[1:]  # the start of this picture never arrives
        for packet in packets:
            recorder.forward(None, packet, "vp8", b"", index / FPS)
    track = recorder.close()
    frames = sum(segment.frames for segment in track.segments)
    assert FPS < frames < FPS * 2  # picture 20 and a few after it are gone, the rest is there
    for segment in track.segments:
        decodes_cleanly(tmp_path / segment.file)


def test_opus_goes_into_ogg_that_decodes_with_the_right_duration(tmp_path: Path) -> None:
    encoder = get_encoder(OPUS)
    recorder = TrackRecorder(
        tmp_path, "mic", participant="alice", kind="audio", codec="opus", started_at=0.0, segment_seconds=60
    )
    sequence = 7
    for index in range(100):  # 2 s of 20 ms frames
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate = 48000
        frame.pts = index * 960
        frame.time_base = Fraction(1, 48000)
        payloads, timestamp = encoder.encode(frame)
        for payload in payloads:
            recorder.forward(
                None, InboundPacket(sequence, timestamp, True, False, payload, None, None), "opus", b"", index / 50
            )
            sequence += 1
    track = recorder.close()
    assert len(track.segments) == 1
    path = tmp_path / track.segments[0].file
    info = probe(path)
    stream = info["streams"][0]  # type: ignore[index]
    assert stream["codec_name"] == "opus"
    assert float(info["format"]["duration"]) == pytest.approx(2.0, abs=0.05)  # type: ignore[index]
    decodes_cleanly(path)


def test_ogg_pages_carry_the_checksum_ffmpeg_verifies(tmp_path: Path) -> None:
    good = tmp_path / "good.ogg"
    writer = OggOpusWriter(good)
    for index in range(50):
        writer.write(bytes([0xFC, 0xFF, 0xFE]), (index + 1) * 960)  # 20 ms of Opus silence each
    writer.close()
    data = good.read_bytes()
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(data[:22] + b"\0\0\0\0" + data[26:])  # the first page's CRC field zeroed
    assert _probe_warnings(good) == ""
    assert "CRC mismatch" in _probe_warnings(bad)


def _probe_warnings(path: Path) -> str:
    command = ["ffprobe", "-v", "warning", str(path)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    return run.stderr.strip()
