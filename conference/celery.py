"""The Celery application: recording composition, email, reminders, webhooks.

Workers start with ``celery -A conference worker``; beat with ``celery -A conference beat``.
Tasks take ids, never model instances.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conference.settings")

app = Celery("conference")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
