"""REST API for the authenticated user's own profile."""

from __future__ import annotations

from rest_framework import generics, serializers

from accounts.access import profile_of
from accounts.models import Profile, validate_time_zone


class MeSerializer(serializers.ModelSerializer[Profile]):
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.CharField(read_only=True)
    time_zone = serializers.CharField(max_length=64, validators=[validate_time_zone], required=False)

    class Meta:
        model = Profile
        fields = ["email", "name", "display_name", "time_zone"]


class MeView(generics.RetrieveUpdateAPIView[Profile]):
    """The authenticated user's profile: display name and time zone."""

    serializer_class = MeSerializer

    def get_object(self) -> Profile:
        return profile_of(self.request.user)  # type: ignore[arg-type]
