"""Creates the benchmark's meeting with the Django ORM and prints it as JSON.

Run by ``bench.stack`` in a subprocess, with the same environment as the servers it
starts (``DJANGO_SETTINGS_MODULE``, ``DATABASE_URL`` / ``DATA_DIR``, ...)::

    python -m bench.setup_meeting --max-participants 1000

Prints ``{"code": ..., "meeting_id": ..., "owner_id": ...}`` on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-participants", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conference.settings")

    import django

    django.setup()

    from accounts.models import User
    from meetings.models import Meeting

    tag = secrets.token_hex(4)
    owner = User.objects.create_user(username=f"bench-owner-{tag}", email=f"bench-owner-{tag}@example.invalid")
    meeting = Meeting.objects.create(
        owner=owner,
        title="Signaling benchmark",
        allow_guests=True,
        waiting_room=False,
        max_participants=args.max_participants,
    )
    print(json.dumps({"code": meeting.code, "meeting_id": meeting.pk, "owner_id": owner.pk}))


if __name__ == "__main__":
    main()
