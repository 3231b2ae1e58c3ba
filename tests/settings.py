"""Test settings: the production settings (DEBUG off) with test-only secrets.

The database and Redis are the real ones that ``make test`` starts (``DATABASE_URL``,
``REDIS_URL``); nothing here swaps them for in-memory fakes.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("ACCOUNT_EMAIL_VERIFICATION", "mandatory")

from conference.settings import *  # noqa: F403
from conference.settings import CACHES, CHANNEL_LAYERS, STORAGES

# Plain static storage: tests do not run collectstatic.
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
# Serve static files from the app folders, as collectstatic is not run for tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Fast hashing: password hashing strength is Django's concern, not ours.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Keep test keys apart from a development server sharing the same Redis.
CACHES["default"]["KEY_PREFIX"] = "conference-test"
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = "conference-test:channels"  # type: ignore[index]
