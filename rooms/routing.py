from django.urls import re_path

from meetings.codes import CODE_PATTERN
from rooms.consumer import MeetingConsumer

websocket_urlpatterns = [
    re_path(rf"^ws/meetings/(?P<code>{CODE_PATTERN})/$", MeetingConsumer.as_asgi()),
]
