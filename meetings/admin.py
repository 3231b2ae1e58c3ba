from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from meetings.models import (
    BreakoutPlan,
    BreakoutPreassignment,
    ChatMessage,
    Meeting,
    MeetingBan,
    Participant,
    Room,
    RoomKind,
)


class RoomInline(admin.TabularInline[Room, Meeting]):
    """The meeting's rooms, read-only here (a room's own page edits it)."""

    model = Room
    fk_name = "meeting"
    fields = readonly_fields = ("name", "kind", "position", "topology", "locked", "opened_at", "closed_at")
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["kind", "position", "id"]

    def has_add_permission(self, request: HttpRequest, obj: Meeting | None = None) -> bool:
        return False


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin[Meeting]):
    inlines = [RoomInline]
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


class RoomStateFilter(admin.SimpleListFilter):
    """Breakout rooms by where they are in their life: set up, open, closed."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Room]) -> list[tuple[str, str]]:
        return [("setup", "Set up, not open"), ("open", "Open"), ("closed", "Closed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Room]) -> QuerySet[Room]:
        if self.value() == "setup":
            return queryset.filter(kind=RoomKind.BREAKOUT, opened_at__isnull=True, closed_at__isnull=True)
        if self.value() == "open":
            return queryset.filter(opened_at__isnull=False, closed_at__isnull=True)
        if self.value() == "closed":
            return queryset.filter(closed_at__isnull=False)
        return queryset


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin[Room]):
    list_display = ["name", "meeting", "kind", "position", "topology", "locked", "opened_at", "closed_at"]
    list_filter = ["kind", RoomStateFilter, "topology", "locked"]
    search_fields = ["name", "meeting__code", "meeting__title"]
    raw_id_fields = ["meeting", "parent"]
    readonly_fields = ["topology", "created_at"]
    list_select_related = ["meeting"]


@admin.register(BreakoutPlan)
class BreakoutPlanAdmin(admin.ModelAdmin[BreakoutPlan]):
    list_display = [
        "meeting",
        "mode",
        "allow_return",
        "duration_minutes",
        "countdown_seconds",
        "opened_at",
        "ends_at",
        "closing_at",
    ]
    list_filter = ["mode", "allow_return"]
    search_fields = ["meeting__code", "meeting__title"]
    raw_id_fields = ["meeting"]
    readonly_fields = ["updated_at"]
    list_select_related = ["meeting"]


@admin.register(BreakoutPreassignment)
class BreakoutPreassignmentAdmin(admin.ModelAdmin[BreakoutPreassignment]):
    list_display = ["email", "room", "meeting"]
    search_fields = ["email", "meeting__code", "meeting__title", "room__name"]
    raw_id_fields = ["meeting", "room"]
    list_select_related = ["meeting", "room"]
