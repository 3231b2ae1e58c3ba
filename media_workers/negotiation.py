"""Reading a client's offer before aiortc sees it: validation, and what each m-line is for.

The convention (docs/sfu-media.md): the client offers, in one SDP, its send sections (audio,
camera high, camera low, optionally screen; ``sendonly`` or ``sendrecv``) and its receive
slots (``recvonly``: audio slots, video slots, and, when it offers two or more video slots,
the last one is the screen slot). The worker answers. Roles of send sections follow m-line order
(audio; then video: camera high, camera low, screen) unless the control plane passes them by MID.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aiortc import sdp

from media_workers.consumer import SlotKind
from media_workers.errors import BAD_MEDIA_SECTIONS, BAD_SDP, NO_COMMON_CODEC, MediaError
from media_workers.producer import ProducerRole

#: Codecs the worker forwards, per kind (lower-case names); RTX is accepted alongside them.
FORWARDED_CODECS = {"audio": ("opus",), "video": ("vp8", "h264")}
MAX_SDP_LENGTH = 64 * 1024
VIDEO_SEND_ORDER = (ProducerRole.CAMERA_HIGH, ProducerRole.CAMERA_LOW, ProducerRole.SCREEN)


@dataclass(frozen=True)
class Section:
    index: int
    mid: str
    kind: str
    #: the client's direction (what the client does)
    direction: str
    ssrc: int | None = None
    rtx_ssrc: int | None = None

    @property
    def publishes(self) -> bool:
        return self.direction in ("sendonly", "sendrecv")

    @property
    def receives(self) -> bool:
        return self.direction == "recvonly"


@dataclass
class OfferPlan:
    sections: list[Section]
    roles: dict[str, ProducerRole] = field(default_factory=dict)
    slots: dict[str, SlotKind] = field(default_factory=dict)


def parse_offer(text: str) -> list[Section]:
    """The offer's audio/video sections; raises MediaError for anything that is not usable."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_SDP_LENGTH:
        raise MediaError(BAD_SDP, "the offer is empty or too long")
    try:
        description = sdp.SessionDescription.parse(text)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, AssertionError) as exc:
        # aiortc's parser reports some malformed lines (e.g. a=candidate) with assert.
        raise MediaError(BAD_SDP, f"the offer could not be parsed: {exc}") from exc
    bundle = next((group for group in description.group if group.semantic == "BUNDLE"), None)
    bundled = {str(item) for item in bundle.items} if bundle is not None else set()
    sections: list[Section] = []
    for index, media in enumerate(description.media):
        if media.kind not in ("audio", "video", "application"):
            raise MediaError(BAD_MEDIA_SECTIONS, f"m-line {index}: media kind {media.kind!r} is not supported")
        if not media.rtp.muxId:
            raise MediaError(BAD_SDP, f"m-line {index} has no a=mid")
        if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
            raise MediaError(BAD_SDP, f"m-line {index} has no ICE credentials")
        if media.dtls is None or not media.dtls.fingerprints:
            raise MediaError(BAD_SDP, f"m-line {index} has no DTLS fingerprint")
        if media.port != 0 and media.rtp.muxId not in bundled:
            raise MediaError(BAD_SDP, f"m-line {index} is not in the BUNDLE group (one transport is required)")
        if media.kind == "application":
            continue
        if not media.rtcp_mux:
            raise MediaError(BAD_SDP, f"m-line {index} does not use rtcp-mux")
        direction = media.direction or "sendrecv"
        if direction != "inactive" and media.port != 0:
            names = {codec.name.lower() for codec in media.rtp.codecs}
            if not names & set(FORWARDED_CODECS[media.kind]):
                wanted = ", ".join(FORWARDED_CODECS[media.kind])
                raise MediaError(NO_COMMON_CODEC, f"m-line {index} ({media.kind}) offers none of: {wanted}")
        ssrc, rtx_ssrc = _ssrcs(media)
        sections.append(Section(index, media.rtp.muxId, media.kind, direction, ssrc, rtx_ssrc))
    if not sections:
        raise MediaError(BAD_SDP, "the offer has no audio or video section")
    return sections


def _ssrcs(media: sdp.MediaDescription) -> tuple[int | None, int | None]:
    for group in media.ssrc_group:
        if group.semantic == "FID" and len(group.items) >= 2:
            return int(group.items[0]), int(group.items[1])
    if media.ssrc:
        return media.ssrc[0].ssrc, None
    return None, None


def plan_offer(
    sections: list[Section],
    *,
    known_roles: Mapping[str, ProducerRole],
    known_slots: Mapping[str, SlotKind],
    requested_roles: Mapping[str, str] | None,
    audio_slots: int,
    video_slots: int,
) -> OfferPlan:
    """Roles of the send sections and kinds of the receive slots (stable across renegotiations)."""
    plan = OfferPlan(sections)
    taken: set[ProducerRole] = set()
    for section in sections:
        if section.mid in known_roles and section.publishes:
            plan.roles[section.mid] = known_roles[section.mid]
            taken.add(known_roles[section.mid])
    for section in sections:
        if not section.publishes or section.mid in plan.roles:
            continue
        role = _requested_role(section, requested_roles)
        if role is None:
            order = (ProducerRole.AUDIO,) if section.kind == "audio" else VIDEO_SEND_ORDER
            role = next((r for r in order if r not in taken), None)
        if role is None or role in taken:
            raise MediaError(BAD_MEDIA_SECTIONS, f"too many {section.kind} send sections (mid {section.mid})")
        taken.add(role)
        plan.roles[section.mid] = role
    receiving = [s for s in sections if s.receives]
    video_receiving = [s for s in receiving if s.kind == "video" and s.mid not in known_slots]
    screen_mid = video_receiving[-1].mid if len(video_receiving) >= 2 else None
    if SlotKind.SCREEN in known_slots.values():
        screen_mid = None
    for section in receiving:
        if section.mid in known_slots:
            plan.slots[section.mid] = known_slots[section.mid]
        elif section.kind == "audio":
            plan.slots[section.mid] = SlotKind.AUDIO
        else:
            plan.slots[section.mid] = SlotKind.SCREEN if section.mid == screen_mid else SlotKind.VIDEO
    counts = {kind: sum(1 for k in plan.slots.values() if k == kind) for kind in SlotKind}
    if counts[SlotKind.AUDIO] > audio_slots or counts[SlotKind.VIDEO] > video_slots or counts[SlotKind.SCREEN] > 1:
        raise MediaError(
            BAD_MEDIA_SECTIONS,
            f"at most {audio_slots} audio, {video_slots} video and 1 screen receive slots are accepted",
        )
    return plan


def _requested_role(section: Section, requested: Mapping[str, str] | None) -> ProducerRole | None:
    if not requested or section.mid not in requested:
        return None
    try:
        role = ProducerRole(requested[section.mid])
    except ValueError as exc:
        raise MediaError(BAD_MEDIA_SECTIONS, f"unknown role {requested[section.mid]!r} for mid {section.mid}") from exc
    if (role == ProducerRole.AUDIO) != (section.kind == "audio"):
        raise MediaError(BAD_MEDIA_SECTIONS, f"role {role} does not fit a {section.kind} section (mid {section.mid})")
    return role
