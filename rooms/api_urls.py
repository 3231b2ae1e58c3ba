"""URLs of the live rooms' REST API, under /api/v1/ (composed by ``conference.api_urls``)."""

from django.urls import path

from rooms import api

urlpatterns = [
    path(
        "meetings/<str:code>/recording/start/",
        api.RecordingControlView.as_view(action="start"),
        name="meeting-start-recording",
    ),
    path(
        "meetings/<str:code>/recording/stop/",
        api.RecordingControlView.as_view(action="stop"),
        name="meeting-stop-recording",
    ),
    path("meetings/<str:code>/breakouts/", api.BreakoutsView.as_view(), name="meeting-breakouts"),
    path("meetings/<str:code>/breakouts/rooms/", api.BreakoutRoomsView.as_view(), name="meeting-breakout-rooms"),
    path("meetings/<str:code>/breakouts/assign/", api.BreakoutAssignView.as_view(), name="meeting-breakout-assign"),
    path(
        "meetings/<str:code>/breakouts/auto-assign/",
        api.BreakoutAutoAssignView.as_view(),
        name="meeting-breakout-auto-assign",
    ),
    path(
        "meetings/<str:code>/breakouts/preassign/",
        api.BreakoutPreassignView.as_view(),
        name="meeting-breakout-preassign",
    ),
    path("meetings/<str:code>/breakouts/open/", api.BreakoutOpenView.as_view(), name="meeting-breakout-open"),
    path("meetings/<str:code>/breakouts/close/", api.BreakoutCloseView.as_view(), name="meeting-breakout-close"),
    path(
        "meetings/<str:code>/breakouts/broadcast/",
        api.BreakoutBroadcastView.as_view(),
        name="meeting-breakout-broadcast",
    ),
]
