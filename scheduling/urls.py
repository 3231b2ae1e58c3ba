from django.urls import path

from scheduling import views

urlpatterns = [
    path("", views.schedule, name="schedule"),
    path("agenda/", views.agenda_page, name="agenda"),
    path("invitations/", views.invitations_page, name="scheduling_invitations"),
    path("invitations/<str:invitation_id>/respond/", views.invitation_respond, name="invitation_respond"),
    path("feed/regenerate/", views.feed_regenerate, name="feed_regenerate"),
    path("feed/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("rsvp/<str:token>/", views.rsvp_page, name="rsvp"),
    path("<str:series_id>/", views.series_detail, name="series_detail"),
    path("<str:series_id>/edit/", views.series_edit, name="series_edit"),
    path("<str:series_id>/cancel/", views.series_cancel, name="series_cancel"),
    path("<str:series_id>/invite/", views.series_invite, name="series_invite"),
    path("<str:series_id>/invitations/<str:invitation_id>/remove/", views.series_uninvite, name="series_uninvite"),
    path("<str:series_id>/reply/", views.series_reply, name="series_reply"),
    path("<str:series_id>/invite.ics", views.series_ics, name="series_ics"),
    path("<str:series_id>/occurrences/<str:key>/", views.occurrence_edit, name="occurrence_edit"),
    path("<str:series_id>/occurrences/<str:key>/cancel/", views.occurrence_cancel, name="occurrence_cancel"),
]
