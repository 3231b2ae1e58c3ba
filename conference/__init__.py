"""Project package: settings, URL and ASGI composition, the Celery app, shared API plumbing."""

from conference.celery import app as celery_app

__all__ = ["celery_app"]
