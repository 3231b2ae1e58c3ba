"""The versioned REST API, composed from each app's API module."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from accounts.api import MeView
from meetings.api import JoinInfoView, MeetingViewSet
from meetings.recordings.api import RecordingViewSet
from webhooks.api import WebhookViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("meetings", MeetingViewSet, basename="meeting")
router.register("recordings", RecordingViewSet, basename="recording")
router.register("webhooks", WebhookViewSet, basename="webhook")

urlpatterns = [
    path("me/", MeView.as_view(), name="api-me"),
    path("join-info/<str:code>/", JoinInfoView.as_view(), name="api-join-info"),
    path("", include("rooms.api_urls")),
    *router.urls,
    path("", include("scheduling.api_urls")),
]
