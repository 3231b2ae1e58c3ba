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
]
