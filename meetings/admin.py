from __future__ import annotations

from django.contrib import admin

from meetings.models import Meeting


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin[Meeting]):
    list_display = [
        "title",
        "code",
        "owner",
        "status",
        "waiting_room",
        "allow_guests",
        "max_participants",
        "created_at",
    ]
    list_filter = ["status", "waiting_room", "allow_guests", "mute_on_entry", "created_at"]
    search_fields = ["title", "code", "owner__email", "owner__username"]
    raw_id_fields = ["owner"]
    filter_horizontal = ["co_hosts"]
    readonly_fields = ["code", "created_at", "updated_at", "started_at", "ended_at"]
    date_hierarchy = "created_at"
    list_select_related = ["owner"]
