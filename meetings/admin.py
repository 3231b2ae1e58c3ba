from __future__ import annotations

from django.contrib import admin

from meetings.models import ChatMessage, Meeting, MeetingBan, Participant


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


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin[Participant]):
    list_display = ["display_name", "meeting", "user", "role", "state", "audio", "video", "joined_at", "left_at"]
    list_filter = ["state", "role", "leave_reason", "joined_at"]
    search_fields = ["display_name", "meeting__code", "meeting__title", "user__email"]
    raw_id_fields = ["meeting", "user"]
    readonly_fields = ["id", "created_at", "joined_at", "left_at", "disconnected_at"]
    list_select_related = ["meeting", "user"]


@admin.register(MeetingBan)
class MeetingBanAdmin(admin.ModelAdmin[MeetingBan]):
    list_display = ["display_name", "meeting", "user", "reason", "created_at"]
    list_filter = ["reason", "created_at"]
    search_fields = ["display_name", "meeting__code", "user__email"]
    raw_id_fields = ["meeting", "user"]


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin[ChatMessage]):
    list_display = ["created_at", "meeting", "sender", "recipient", "text"]
    list_filter = ["created_at"]
    search_fields = ["text", "meeting__code", "sender__display_name"]
    raw_id_fields = ["meeting", "sender", "recipient"]
    date_hierarchy = "created_at"
    list_select_related = ["meeting", "sender", "recipient"]
