"""The manifest a recorder writes next to its per-track files (``manifest.json``).

It is the contract between the SFU worker's recorder (which writes it, without Django) and the
composition task (which reads it). Times are milliseconds relative to the recording's start, so
tracks that come and go (a participant who joins half way) are placed where they belong.
Documented with an example in docs/recording.md; bump ``version`` on any incompatible change.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import PurePosixPath
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

MANIFEST_NAME = "manifest.json"


class TrackKind(StrEnum):
    AUDIO = "audio"
    CAMERA = "camera"
    SCREEN = "screen"


def _check_relative(name: str) -> str:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name or name.startswith("."):
        raise ValueError("must be a plain file name relative to the manifest's folder")
    return name


class Segment(BaseModel):
    """One file of a track written in segments (a crash loses at most the last one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    start_ms: int = Field(ge=0)
    end_ms: int = Field(gt=0)

    _file = field_validator("file")(_check_relative)

    @model_validator(mode="after")
    def _ordered(self) -> Segment:
        if self.end_ms <= self.start_ms:
            raise ValueError("end_ms must be after start_ms")
        return self


class Piece(BaseModel):
    """A file and where it sits on the recording's time line (a track or one of its segments)."""

    model_config = ConfigDict(frozen=True)

    file: str
    start_ms: int
    end_ms: int


class Track(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    participant_id: str = Field(min_length=1, max_length=64)
    display_name: str = Field(max_length=200)
    kind: TrackKind
    codec: Literal["opus", "vp8", "h264"]
    container: Literal["webm", "mkv", "ivf", "ogg"]
    start_ms: int = Field(ge=0)
    end_ms: int = Field(gt=0)
    segments: list[Segment] | None = None

    _file = field_validator("file")(_check_relative)

    @model_validator(mode="after")
    def _consistent(self) -> Track:
        if self.end_ms <= self.start_ms:
            raise ValueError("end_ms must be after start_ms")
        if (self.kind == TrackKind.AUDIO) != (self.codec == "opus"):
            raise ValueError(f"codec {self.codec} does not fit a {self.kind} track")
        for segment in self.segments or []:
            if segment.start_ms < self.start_ms or segment.end_ms > self.end_ms:
                raise ValueError(f"segment {segment.file} lies outside its track's interval")
        return self

    @property
    def is_video(self) -> bool:
        return self.kind != TrackKind.AUDIO

    def pieces(self) -> list[Piece]:
        """The files that hold this track, in time order."""
        if not self.segments:
            return [Piece(file=self.file, start_ms=self.start_ms, end_ms=self.end_ms)]
        ordered = sorted(self.segments, key=lambda segment: segment.start_ms)
        return [Piece(file=s.file, start_ms=s.start_ms, end_ms=s.end_ms) for s in ordered]


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    recording_id: int = Field(gt=0)
    started_at: AwareDatetime
    ended_ms: int | None = Field(default=None, gt=0, description="When recording stopped; else the last track's end.")
    tracks: list[Track] = Field(description="Empty until the first track has frames on disk.")

    @property
    def duration_ms(self) -> int:
        last_end = max((track.end_ms for track in self.tracks), default=0)
        return max(last_end, self.ended_ms or 0)

    def tracks_of(self, *kinds: TrackKind) -> list[Track]:
        return [track for track in self.tracks if track.kind in kinds]

    def files(self) -> list[str]:
        return [piece.file for track in self.tracks for piece in track.pieces()]


def parse_manifest(text: str | bytes) -> Manifest:
    """Raises ``pydantic.ValidationError`` on anything malformed."""
    return Manifest.model_validate_json(text)
