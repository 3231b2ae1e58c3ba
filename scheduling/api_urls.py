"""Scheduling routes of the versioned REST API (included by ``conference.api_urls``)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from scheduling.api import AgendaView, FeedRegenerateView, FeedView, InvitationViewSet, ScheduledMeetingViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("scheduled-meetings", ScheduledMeetingViewSet, basename="scheduled-meeting")
router.register("invitations", InvitationViewSet, basename="invitation")

urlpatterns = [
    path("occurrences/", AgendaView.as_view(), name="api-occurrences"),
    path("calendar-feed/", FeedView.as_view(), name="api-calendar-feed"),
    path("calendar-feed/regenerate/", FeedRegenerateView.as_view(), name="api-calendar-feed-regenerate"),
    *router.urls,
]
