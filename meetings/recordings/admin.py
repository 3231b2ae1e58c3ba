from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from meetings.recordings import actions, tasks
from meetings.recordings.models import Recording, RecordingStatus


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin[Recording]):
    list_display = ["id", "meeting", "status", "progress", "started_at", "duration_seconds", "size_bytes", "attempts"]
    list_filter = ["status", "started_at"]
    search_fields = ["meeting__title", "meeting__code", "started_by__email", "sha256"]
    list_select_related = ["meeting"]
    raw_id_fields = ["meeting", "started_by"]
    date_hierarchy = "started_at"
    readonly_fields = [
        "status",
        "failure_reason",
        "progress",
        "attempts",
        "heartbeat_at",
        "duration_ms",
        "size_bytes",
        "sha256",
        "file_name",
        "thumbnail_name",
        "created_at",
        "updated_at",
    ]
    actions = ["retry_composition"]

    @admin.action(description="Retry composition of the selected recordings")
    def retry_composition(self, request: HttpRequest, queryset: QuerySet[Recording]) -> None:
        ids = list(queryset.exclude(status=RecordingStatus.PROCESSING).values_list("pk", flat=True))
        count = actions.do_requeue_composition(ids, tasks.queue_composition)
        self.message_user(request, f"{count} recording(s) queued for composition.")
