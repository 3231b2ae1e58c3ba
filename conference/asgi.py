"""ASGI entry point served by daphne: HTTP goes to Django, WebSockets to Channels consumers.

WebSocket routes are composed from each app's ``routing.py``; connections must come from an
allowed origin (``ALLOWED_HOSTS``) and carry the Django session (resolved on the handshake
thread, ``conference.handshake``).
"""

from __future__ import annotations

import os
from importlib import import_module

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conference.settings")
# Django must be set up before anything imports models (consumers, auth middleware).
django_asgi_app = get_asgi_application()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import URLPattern, URLResolver, re_path  # noqa: E402

from conference.handshake import auth_stack  # noqa: E402

WEBSOCKET_ROUTING_MODULES = ("rooms.routing",)


class NoSuchSocket(AsyncWebsocketConsumer):
    """Any other WebSocket path: refused at the handshake (HTTP 403), quietly. Without it
    Channels' router raised "No route found" for each one: a 500 and an ERROR traceback per
    request, a way to flood the logs."""

    async def connect(self) -> None:
        await self.close()


def websocket_urlpatterns() -> list[URLPattern | URLResolver]:
    patterns: list[URLPattern | URLResolver] = []
    for module_name in WEBSOCKET_ROUTING_MODULES:
        patterns.extend(import_module(module_name).websocket_urlpatterns)
    patterns.append(re_path(r"", NoSuchSocket.as_asgi()))
    return patterns


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(auth_stack(URLRouter(websocket_urlpatterns()))),
    }
)
