"""Test data factories (factory_boy) with typed helpers: ``make_user`` and ``make_meeting``."""

from __future__ import annotations

from typing import Any, cast

import factory
from allauth.account.models import EmailAddress

from accounts.models import User
from meetings.models import Meeting, Room
from rooms.breakout_state import main_room

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


#: Fields that live on a meeting's main room since rooms became their own model.
MAIN_ROOM_FIELDS = frozenset({"topology", "locked"})


def main_room_of(meeting: Meeting) -> Room:
    """The meeting's main room, fresh from the database."""
    return main_room(meeting.pk)


def save_meeting(meeting: Meeting, **fields: Any) -> None:
    """Sets fields of the meeting, or of its main room (``topology``, ``locked``), and saves."""
    room = main_room(meeting.pk)
    for name, value in fields.items():
        setattr(room if name in MAIN_ROOM_FIELDS else meeting, name, value)
    meeting.save()
    room.save()
