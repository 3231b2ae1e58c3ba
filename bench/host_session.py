"""Signs a user in (a server-side session) and prints the session cookie as JSON.

Run by ``bench.stack`` (for ``bench.breakout``) in a subprocess with the same environment as
the web processes it starts (``SECRET_KEY``, ``DATABASE_URL`` / ``DATA_DIR``, ``REDIS_URL``:
the session lives in the database and the cache), so that the meeting's owner can connect to
the room as its host::

    python -m bench.host_session --user-id 1

Prints ``{"cookie": "sessionid=..."}`` on stdout.
"""

from __future__ import annotations

import argparse
import json
import os


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user-id", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conference.settings")

    import django

    django.setup()

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.get(pk=args.user_id)
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    print(json.dumps({"cookie": f"{name}={client.cookies[name].value}"}))


if __name__ == "__main__":
    main()
