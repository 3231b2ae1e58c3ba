"""Creates the demo account (when missing) that ``make run`` prints, with a verified email."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from accounts.access import profile_of

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password-123"  # noqa: S105  (a published demo credential, printed on start)


class Command(BaseCommand):
    help = "Create the demo account (demo@example.com) if it does not exist, and print its credentials."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        user = user_model.objects.filter(email__iexact=DEMO_EMAIL).first()
        if user is None:
            user = user_model.objects.create_user(username="demo", email=DEMO_EMAIL, password=DEMO_PASSWORD)
            user.is_staff = True
            user.is_superuser = True
            user.save()
        EmailAddress.objects.update_or_create(user=user, email=DEMO_EMAIL, defaults={"verified": True, "primary": True})
        profile = profile_of(user)
        if not profile.display_name:
            profile.display_name = "Demo User"
            profile.save(update_fields=["display_name"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo account: {DEMO_EMAIL} / {DEMO_PASSWORD} (also admin at /admin/). "
                "Change or delete it before exposing this site."
            )
        )
