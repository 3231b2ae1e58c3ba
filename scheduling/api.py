"""REST API of scheduling: scheduled meetings (organizer), their occurrences and invitations,
invitations to the authenticated user, the agenda across meetings, and the feed URL.

Thin: access checks come from ``scheduling.access``, changes from ``scheduling.actions``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from conference.api import ApiError
from scheduling import access, actions, feeds, ical, occurrences, recurrence
from scheduling.agenda import agenda
from scheduling.models import CalendarFeed, Invitation, ScheduledMeeting
from scheduling.serializers import (
    AgendaEntrySerializer,
    AttendeeSerializer,
    FeedSerializer,
    InvitationSerializer,
    InviteSerializer,
    OccurrenceSerializer,
    OccurrenceWriteSerializer,
    ReplyUploadSerializer,
    RespondSerializer,
    ScheduleCreateSerializer,
    ScheduledMeetingSerializer,
    ScheduleWriteSerializer,
)

MAX_RANGE = timedelta(days=400)
DEFAULT_RANGE = timedelta(days=90)
ICS_RESPONSE = {(200, "text/calendar"): OpenApiTypes.STR}
RANGE_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATETIME, description="From (a date or date-time; default: now)."),
    OpenApiParameter(
        "end", OpenApiTypes.DATETIME, description="Until, exclusive (default: start + 90 days; at most 400 days)."
    ),
]
OCCURRENCE_ID = OpenApiParameter(
    "occurrence_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="Original start in UTC, 20260302T080000Z."
)
INVITATION_ID = OpenApiParameter("invitation_id", OpenApiTypes.INT, OpenApiParameter.PATH)


class ICalendarParser(parsers.BaseParser):
    """A raw ``text/calendar`` body (an iTIP REPLY)."""

    media_type = "text/calendar"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return bytes(stream.read()) if stream is not None else b""


def ics_response(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _moment(request: Request, name: str, default: datetime) -> datetime:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    parsed = parse_datetime(raw)
    if parsed is None:
        day = parse_date(raw)
        if day is None:
            raise ApiError("invalid", "Use a date (2026-03-01) or a date-time (2026-03-01T09:00:00Z).", field=name)
        parsed = datetime.combine(day, time())
    if not recurrence.convertible(parsed):
        raise ApiError("out_of_range", f"Use a date between 1970 and {recurrence.LAST_YEAR}.", field=name)
    return parsed if parsed.tzinfo is not None else timezone.make_aware(parsed)


def date_range(request: Request) -> tuple[datetime, datetime]:
    begin = _moment(request, "start", timezone.now())
    end = _moment(request, "end", begin + DEFAULT_RANGE)
    if end <= begin:
        raise ApiError("end_before_start", "The end must be after the start.", field="end")
    if end - begin > MAX_RANGE:
        raise ApiError("range_too_long", f"At most {MAX_RANGE.days} days at once.", field="end")
    return begin, end


def parse_occurrence_id(key: str) -> datetime:
    parsed = occurrences.parse_occurrence_key(key)
    if parsed is None:
        raise ApiError("unknown_occurrence", "Occurrence ids look like 20260302T080000Z.", status_code=404)
    return parsed


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


class ScheduledMeetingViewSet(viewsets.GenericViewSet[ScheduledMeeting]):
    """Meetings the authenticated user scheduled. Other people's answer 404."""

    queryset = ScheduledMeeting.objects.none()
    serializer_class = ScheduledMeetingSerializer
    filterset_fields = ["status"]
    search_fields = ["title"]
    ordering_fields = ["start", "created_at", "title"]
    ordering = ["start"]
    http_method_names = ["get", "post", "patch", "delete"]

    def get_queryset(self) -> QuerySet[ScheduledMeeting]:
        return (
            access.series_organized_by(self.request.user)
            .select_related("meeting", "organizer")
            .prefetch_related("invitations")
        )

    def get_object(self) -> ScheduledMeeting:
        return access.access_series_to_manage(self.request.user, self.kwargs["pk"])

    def list(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        assert page is not None
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=ScheduleCreateSerializer, responses={201: ScheduledMeetingSerializer})
    def create(self, request: Request) -> Response:
        """Schedule a meeting (once or recurring) and invite people: each gets an email with an invitation."""
        incoming = ScheduleCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        series = actions.do_schedule_meeting(_user(request), incoming.changes(), incoming.invitees_input())
        return Response(self.get_serializer(series).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=ScheduleWriteSerializer, responses=ScheduledMeetingSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        """Change the whole series; invitees get an updated invitation (SEQUENCE + 1)."""
        incoming = ScheduleWriteSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        series = actions.do_update_series(self.get_object(), incoming.changes())
        return Response(self.get_serializer(series).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        """Cancel the whole series: invitees get a cancellation; the meeting is ended."""
        actions.do_cancel_series(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=RANGE_PARAMETERS, responses=OccurrenceSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def occurrences(self, request: Request, pk: str) -> Response:
        """The series expanded over a date range (cancelled occurrences left out, moved ones where they are now)."""
        series = self.get_object()
        begin, end = date_range(request)
        return Response(OccurrenceSerializer(occurrences.occurrences_between(series, begin, end), many=True).data)

    @extend_schema(
        methods=["patch"], parameters=[OCCURRENCE_ID], request=OccurrenceWriteSerializer, responses=OccurrenceSerializer
    )
    @extend_schema(methods=["delete"], parameters=[OCCURRENCE_ID], responses={204: None})
    @action(
        detail=True,
        methods=["patch", "delete"],
        url_path=r"occurrences/(?P<occurrence_id>[^/.]+)",
        url_name="occurrence",
        filter_backends=[],
    )
    def occurrence(self, request: Request, pk: str, occurrence_id: str) -> Response:
        """PATCH: move, shorten or retitle this occurrence only. DELETE: cancel this occurrence only.
        Invitees get an update (or a cancellation) for that occurrence."""
        series = self.get_object()
        recurrence_id = parse_occurrence_id(occurrence_id)
        if request.method == "DELETE":
            actions.do_cancel_occurrence(series, recurrence_id)
            return Response(status=status.HTTP_204_NO_CONTENT)
        incoming = OccurrenceWriteSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        updated = actions.do_update_occurrence(series, recurrence_id, incoming.changes())
        return Response(OccurrenceSerializer(updated).data)

    @extend_schema(methods=["get"], responses=AttendeeSerializer(many=True))
    @extend_schema(methods=["post"], request=InviteSerializer, responses={201: AttendeeSerializer(many=True)})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def invitations(self, request: Request, pk: str) -> Response:
        """GET: who is invited and what they answered. POST: invite more people (emails of users or not)."""
        series = self.get_object()
        if request.method == "GET":
            return Response(AttendeeSerializer(series.invitations.all(), many=True).data)
        incoming = InviteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        wanted = [actions.Invitee(item["email"], item.get("name", "")) for item in incoming.validated_data["invitees"]]
        created = actions.do_invite(series, wanted)
        return Response(AttendeeSerializer(created, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[INVITATION_ID], responses={204: None})
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"invitations/(?P<invitation_id>[^/.]+)",
        url_name="invitation",
        filter_backends=[],
    )
    def invitation(self, request: Request, pk: str, invitation_id: str) -> Response:
        """Uninvite someone: they get a cancellation."""
        series = self.get_object()
        actions.do_uninvite(series, access.access_invitation_of_series(series, invitation_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request={"text/calendar": OpenApiTypes.BINARY, "multipart/form-data": ReplyUploadSerializer},
        responses=AttendeeSerializer(many=True),
    )
    @action(
        detail=True,
        methods=["post"],
        parser_classes=[ICalendarParser, parsers.MultiPartParser],
        filter_backends=[],
    )
    def replies(self, request: Request, pk: str) -> Response:
        """Apply an iTIP REPLY that an attendee's calendar client sent to the organizer: post the
        .ics as the body (Content-Type: text/calendar) or upload it as ``file``."""
        series = self.get_object()
        data: Any = request.data
        if not isinstance(data, bytes):
            upload = data.get("file") if hasattr(data, "get") else None
            if upload is None:
                raise ApiError("required", "Send the REPLY .ics as the body or as 'file'.", field="file")
            data = upload.read(512 * 1024)
        applied = actions.do_apply_reply(series, data)
        return Response(AttendeeSerializer(applied, many=True).data)

    @extend_schema(responses=ICS_RESPONSE)
    @action(detail=True, methods=["get"], filter_backends=[])
    def ics(self, request: Request, pk: str) -> HttpResponse:
        """The series as an iCalendar file, to import into a calendar."""
        series = self.get_object()
        return ics_response(ical.publish([series]), "invite.ics")


class InvitationViewSet(viewsets.ReadOnlyModelViewSet[Invitation]):
    """Invitations addressed to the authenticated user, and their answers."""

    queryset = Invitation.objects.none()
    serializer_class = InvitationSerializer
    filterset_fields = ["partstat"]
    search_fields = ["series__title"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[Invitation]:
        return access.invitations_to(self.request.user).select_related("series", "series__meeting", "series__organizer")

    def get_object(self) -> Invitation:
        return access.access_invitation_to_answer(self.request.user, self.kwargs["pk"])

    @extend_schema(request=RespondSerializer, responses=InvitationSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def respond(self, request: Request, pk: str) -> Response:
        """Accept, decline or answer "maybe", for the series or for one occurrence."""
        invitation = self.get_object()
        incoming = RespondSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        key = incoming.validated_data.get("occurrence")
        recurrence_id = None
        if key is not None:
            recurrence_id = occurrences.parse_occurrence_key(key)
            if recurrence_id is None:
                raise ApiError("unknown_occurrence", "Occurrence ids look like 20260302T080000Z.", field="occurrence")
        actions.do_respond(invitation, incoming.validated_data["response"], recurrence_id)
        invitation.refresh_from_db()
        return Response(self.get_serializer(invitation).data)

    @extend_schema(responses=ICS_RESPONSE)
    @action(detail=True, methods=["get"], filter_backends=[])
    def ics(self, request: Request, pk: str) -> HttpResponse:
        """The meeting as an iCalendar file, to import into a calendar."""
        invitation = self.get_object()
        return ics_response(ical.publish([invitation.series]), "invite.ics")


class AgendaView(APIView):
    """Occurrences of every meeting the user organizes or is invited to, over a date range."""

    @extend_schema(
        parameters=RANGE_PARAMETERS, responses=AgendaEntrySerializer(many=True), operation_id="occurrences_list"
    )
    def get(self, request: Request) -> Response:
        begin, end = date_range(request)
        return Response(AgendaEntrySerializer(agenda(_user(request), begin, end), many=True).data)


class FeedView(APIView):
    """The user's secret calendar feed URL (subscribe to it in a calendar client)."""

    @extend_schema(responses=FeedSerializer, operation_id="calendar_feed_retrieve")
    def get(self, request: Request) -> Response:
        return Response(FeedSerializer({"url": feed_url(feeds.feed_of(_user(request)))}).data)


class FeedRegenerateView(APIView):
    @extend_schema(request=None, responses=FeedSerializer, operation_id="calendar_feed_regenerate")
    def post(self, request: Request) -> Response:
        """A new secret feed URL; the old one stops working."""
        return Response(FeedSerializer({"url": feed_url(actions.do_regenerate_feed(_user(request)))}).data)


def feed_url(feed: CalendarFeed) -> str:
    return ical.site_url(reverse("calendar_feed", kwargs={"token": feeds.feed_token(feed)}))
