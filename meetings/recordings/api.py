"""REST API for recordings: list (filter by meeting), retrieve with fresh signed links, delete.
The meeting's owner and co-hosts see and delete its recordings; invitees see them when the
meeting shares them (``recordings_for_invitees``) but cannot delete (403 ``not_host``);
everyone else gets 404."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers, viewsets

from conference.api import ApiError
from meetings.recordings import access, actions
from meetings.recordings.links import LinkKind, signed_url
from meetings.recordings.models import Recording, RecordingStatus


class RecordingSerializer(serializers.ModelSerializer[Recording]):
    meeting = serializers.CharField(source="meeting.code", read_only=True, help_text="The meeting's join code.")
    meeting_title = serializers.CharField(source="meeting.title", read_only=True)
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)
    play_url = serializers.SerializerMethodField(help_text="Signed, expiring link to play in the browser (ready only).")
    download_url = serializers.SerializerMethodField(help_text="Signed, expiring download link (ready only).")
    thumbnail_url = serializers.SerializerMethodField(help_text="Signed, expiring JPEG link (ready only).")
    can_delete = serializers.BooleanField(
        source="manageable", read_only=True, help_text="Whether you may delete it (the meeting's hosts)."
    )

    class Meta:
        model = Recording
        fields = [
            "id",
            "meeting",
            "meeting_title",
            "status",
            "failure_reason",
            "progress",
            "started_at",
            "ended_at",
            "duration_seconds",
            "size_bytes",
            "sha256",
            "play_url",
            "download_url",
            "thumbnail_url",
            "can_delete",
        ]
        read_only_fields = fields

    def _url(self, recording: Recording, kind: LinkKind) -> str | None:
        if recording.status != RecordingStatus.READY:
            return None
        if kind == LinkKind.THUMBNAIL and not recording.thumbnail_name:
            return None
        request = self.context["request"]
        return str(request.build_absolute_uri(signed_url(recording.pk, kind, request.user.pk)))

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_play_url(self, recording: Recording) -> str | None:
        return self._url(recording, LinkKind.PLAY)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_download_url(self, recording: Recording) -> str | None:
        return self._url(recording, LinkKind.DOWNLOAD)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_thumbnail_url(self, recording: Recording) -> str | None:
        return self._url(recording, LinkKind.THUMBNAIL)


class RecordingFilter(django_filters.FilterSet):
    meeting = django_filters.CharFilter(field_name="meeting__code", help_text="A meeting's join code.")

    class Meta:
        model = Recording
        fields = ["meeting", "status"]


class RecordingViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet[Recording]
):
    """Recordings of the meetings the authenticated user owns or co-hosts, and of meetings that
    share their recordings with invitees the user is one of."""

    serializer_class = RecordingSerializer
    filterset_class = RecordingFilter
    search_fields = ["meeting__title", "meeting__code"]
    ordering_fields = ["started_at", "status"]
    ordering = ["-started_at"]

    def get_queryset(self) -> QuerySet[Recording]:
        return access.with_manageable(access.recordings_visible_to(self.request.user), self.request.user)

    def perform_destroy(self, instance: Recording) -> None:
        if not access.may_manage_recording(self.request.user, instance):
            raise ApiError("not_host", "Only the meeting's hosts can delete its recordings.", status_code=403)
        actions.do_delete_recording(instance)
