"""REST API for meetings: CRUD for their owner, and a throttled public lookup by code."""

from __future__ import annotations

import json
from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import profile_of
from meetings import access, actions
from meetings.codes import CODE_PATTERN
from meetings.models import ChatMessage, Meeting, MeetingStatus
from meetings.throttling import CodeLookupThrottle


class CoHostsField(serializers.ListField):
    """Co-hosts as a list of emails, in and out."""

    child = serializers.EmailField()

    def to_representation(self, data: Any) -> list[str]:
        return sorted(user.email for user in data.all())


class MeetingSerializer(serializers.ModelSerializer[Meeting]):
    passcode = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=64,
        trim_whitespace=False,
        help_text="Set a passcode; an empty string removes it. Never returned.",
    )
    has_passcode = serializers.BooleanField(read_only=True)
    co_hosts = CoHostsField(
        required=False,
        max_length=50,
        help_text="Emails of existing accounts who may run the meeting with the owner.",
    )
    join_url = serializers.SerializerMethodField()

    class Meta:
        model = Meeting
        fields = [
            "code",
            "title",
            "join_url",
            "status",
            "passcode",
            "has_passcode",
            "waiting_room",
            "allow_guests",
            "mute_on_entry",
            "max_participants",
            "co_hosts",
            "recordings_for_invitees",
            "created_at",
            "updated_at",
            "started_at",
            "ended_at",
        ]
        read_only_fields = ["code", "status", "created_at", "updated_at", "started_at", "ended_at"]

    def get_join_url(self, meeting: Meeting) -> str:
        request = self.context.get("request")
        path = meeting.get_absolute_url()
        return request.build_absolute_uri(path) if request is not None else path

    def _changes(self, data: dict[str, Any]) -> actions.MeetingChanges:
        return actions.MeetingChanges(
            title=data.get("title"),
            passcode=data.get("passcode"),
            waiting_room=data.get("waiting_room"),
            allow_guests=data.get("allow_guests"),
            mute_on_entry=data.get("mute_on_entry"),
            max_participants=data.get("max_participants"),
            co_host_emails=data.get("co_hosts"),
            recordings_for_invitees=data.get("recordings_for_invitees"),
        )

    def create(self, validated_data: dict[str, Any]) -> Meeting:
        return actions.do_create_meeting(self.context["request"].user, self._changes(validated_data))

    def update(self, instance: Meeting, validated_data: dict[str, Any]) -> Meeting:
        return actions.do_update_meeting(instance, self._changes(validated_data))


class MeetingFilter(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Meeting
        fields = ["status", "waiting_room", "allow_guests"]


class ChatExportSerializer(serializers.Serializer[Any]):
    sent_at = serializers.DateTimeField(source="created_at")
    room = serializers.CharField(source="room.name", help_text="Main room, or the breakout room it was sent in.")
    sender = serializers.CharField(source="sender.display_name")
    text = serializers.CharField()


class ChatTextRenderer(renderers.BaseRenderer):
    """The chat as a plain-text transcript (``?format=txt``)."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if not isinstance(data, list):
            return json.dumps(data).encode()
        lines = [f"[{row['sent_at']}] ({row['room']}) {row['sender']}: {row['text']}" for row in data]
        return ("\n".join(lines) + "\n").encode()


class MeetingViewSet(viewsets.ModelViewSet[Meeting]):
    """Meetings owned by the authenticated user. Other people's meetings answer 404."""

    serializer_class = MeetingSerializer
    lookup_field = "code"
    lookup_value_regex = CODE_PATTERN
    filterset_class = MeetingFilter
    search_fields = ["title", "code"]
    ordering_fields = ["created_at", "title", "status"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[Meeting]:
        return access.meetings_owned_by(self.request.user).prefetch_related("co_hosts")

    def perform_destroy(self, instance: Meeting) -> None:
        actions.do_delete_meeting(instance)

    @extend_schema(responses=ChatExportSerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        pagination_class=None,
        filter_backends=[],
        renderer_classes=[renderers.JSONRenderer, ChatTextRenderer],
    )
    def chat(self, request: Request, code: str) -> Response:
        """Export the meeting's chat, of the main room and every breakout room, each message with
        its room (messages to everyone; private messages stay private). ``?format=txt`` gives a
        plain-text transcript."""
        meeting = self.get_object()
        messages = ChatMessage.objects.filter(meeting=meeting, recipient__isnull=True).select_related("sender", "room")
        return Response(ChatExportSerializer(messages, many=True).data)

    @extend_schema(request=None, responses=MeetingSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request: Request, code: str) -> Response:
        """End the meeting for everyone. Ending an ended meeting changes nothing."""
        meeting = actions.do_end_meeting(self.get_object())
        return Response(self.get_serializer(meeting).data)


class JoinInfoSerializer(serializers.Serializer[dict[str, Any]]):
    code = serializers.CharField()
    title = serializers.CharField()
    host = serializers.CharField()
    status = serializers.ChoiceField(choices=MeetingStatus.choices)
    has_passcode = serializers.BooleanField()
    allow_guests = serializers.BooleanField()
    waiting_room = serializers.BooleanField()
    may_join = serializers.BooleanField()
    refusal = serializers.CharField(allow_null=True, help_text="Why the requester may not join, as a stable code.")
    as_host = serializers.BooleanField()
    through_waiting_room = serializers.BooleanField()
    needs_passcode = serializers.BooleanField()


class JoinInfoView(APIView):
    """What a meeting link leads to, for the requester (signed in or not). Throttled per client."""

    permission_classes = [permissions.AllowAny]
    throttle_classes = [CodeLookupThrottle]

    @extend_schema(responses=JoinInfoSerializer, operation_id="join_info")
    def get(self, request: Request, code: str) -> Response:
        meeting = access.meeting_by_code(code)
        policy = access.join_policy(request.user, meeting)
        data = {
            "code": meeting.code,
            "title": meeting.title,
            "host": profile_of(meeting.owner).name,
            "status": meeting.status,
            "has_passcode": meeting.has_passcode,
            "allow_guests": meeting.allow_guests,
            "waiting_room": meeting.waiting_room,
            "may_join": policy.may_join,
            "refusal": policy.refusal.value if policy.refusal else None,
            "as_host": policy.as_host,
            "through_waiting_room": policy.through_waiting_room,
            "needs_passcode": policy.needs_passcode,
        }
        return Response(JoinInfoSerializer(data).data, status=status.HTTP_200_OK)
