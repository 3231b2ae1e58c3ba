from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from scheduling.feeds import new_key
from scheduling.models import (
    CalendarFeed,
    Invitation,
    OccurrenceChange,
    OccurrenceResponse,
    ReminderDelivery,
    RsvpTokenUse,
    ScheduledMeeting,
)


class InvitationInline(admin.TabularInline[Invitation, ScheduledMeeting]):
    model = Invitation
    extra = 0
    raw_id_fields = ["user"]
    readonly_fields = ["responded_at", "created_at"]


class OccurrenceChangeInline(admin.TabularInline[OccurrenceChange, ScheduledMeeting]):
    model = OccurrenceChange
    extra = 0


@admin.register(ScheduledMeeting)
class ScheduledMeetingAdmin(admin.ModelAdmin[ScheduledMeeting]):
    list_display = ["title", "organizer", "start", "time_zone", "frequency", "status", "sequence", "updated_at"]
    list_filter = ["status", "frequency", "time_zone", "start"]
    search_fields = ["title", "uid", "organizer__email", "meeting__code"]
    raw_id_fields = ["organizer", "meeting"]
    readonly_fields = ["uid", "sequence", "last_end", "created_at", "updated_at"]
    date_hierarchy = "start"
    list_select_related = ["organizer"]
    inlines = [InvitationInline, OccurrenceChangeInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin[Invitation]):
    list_display = ["email", "name", "series", "user", "partstat", "responded_at"]
    list_filter = ["partstat", "responded_at"]
    search_fields = ["email", "name", "series__title", "user__email"]
    raw_id_fields = ["series", "user"]
    list_select_related = ["series", "user"]


@admin.register(OccurrenceChange)
class OccurrenceChangeAdmin(admin.ModelAdmin[OccurrenceChange]):
    list_display = ["series", "recurrence_id", "start", "duration", "title", "updated_at"]
    search_fields = ["series__title", "title"]
    raw_id_fields = ["series"]
    list_select_related = ["series"]


@admin.register(OccurrenceResponse)
class OccurrenceResponseAdmin(admin.ModelAdmin[OccurrenceResponse]):
    list_display = ["invitation", "recurrence_id", "partstat", "responded_at"]
    list_filter = ["partstat"]
    search_fields = ["invitation__email", "invitation__series__title"]
    raw_id_fields = ["invitation"]


@admin.register(RsvpTokenUse)
class RsvpTokenUseAdmin(admin.ModelAdmin[RsvpTokenUse]):
    list_display = ["invitation", "partstat", "used_at"]
    list_filter = ["partstat", "used_at"]
    search_fields = ["invitation__email"]
    raw_id_fields = ["invitation"]
    readonly_fields = ["nonce", "used_at"]


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin[CalendarFeed]):
    list_display = ["user", "created_at"]
    search_fields = ["user__email"]
    raw_id_fields = ["user"]
    readonly_fields = ["key", "created_at"]

    def save_model(self, request: HttpRequest, obj: CalendarFeed, form: Any, change: bool) -> None:
        if not obj.key:
            obj.key = new_key()
        super().save_model(request, obj, form, change)


@admin.register(ReminderDelivery)
class ReminderDeliveryAdmin(admin.ModelAdmin[ReminderDelivery]):
    list_display = ["email", "series", "recurrence_id", "claimed_at"]
    list_filter = ["claimed_at"]
    search_fields = ["email", "series__title"]
    raw_id_fields = ["series"]
    readonly_fields = ["claimed_at"]
