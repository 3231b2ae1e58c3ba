"""Test data factories (factory_boy) with typed helpers: ``make_user`` and ``make_meeting``."""

from __future__ import annotations

from typing import Any, cast

import factory
from allauth.account.models import EmailAddress

from conference.accounts.models import User
from meetings.models import Meeting

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")

    @factory.post_generation
    def password(obj: User, create: bool, extracted: str | None, **kwargs: Any) -> None:
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)


class MeetingFactory(factory.django.DjangoModelFactory[Meeting]):
    class Meta:
        model = Meeting

    owner = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Meeting {n}")


def make_user(**fields: Any) -> User:
    """A user with a verified email address and the password ``PASSWORD``."""
    return cast(User, UserFactory(**fields))


def make_meeting(**fields: Any) -> Meeting:
    return cast(Meeting, MeetingFactory(**fields))


def make_meetings(count: int, **fields: Any) -> list[Meeting]:
    return [make_meeting(**fields) for _ in range(count)]
