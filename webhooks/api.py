"""REST API for webhooks: CRUD for their owner, secret rotation, a test ping, and the delivery
log with redelivery. Other people's webhooks answer 404. The secret is returned on creation and
rotation only."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from webhooks import access, actions
from webhooks.events import SUBSCRIBABLE
from webhooks.models import Webhook, WebhookDelivery

DELIVERY_ID = OpenApiParameter("delivery_id", OpenApiTypes.INT, OpenApiParameter.PATH)


@extend_schema_field({"type": "array", "items": {"type": "string", "enum": list(SUBSCRIBABLE)}})
class EventsField(serializers.ListField):
    """Event names; checked by ``actions.check_events`` (codes ``no_events``, ``unknown_event``)."""

    child = serializers.CharField(max_length=64)


class WebhookSerializer(serializers.ModelSerializer[Webhook]):
    url = serializers.CharField(
        max_length=2000, help_text="http(s) URL the events are POSTed to; private addresses are refused."
    )
    events = EventsField(max_length=len(SUBSCRIBABLE) * 2, help_text="Events to receive: " + ", ".join(SUBSCRIBABLE))

    class Meta:
        model = Webhook
        fields = ["id", "url", "description", "events", "active", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def changes(self) -> actions.WebhookChanges:
        data: dict[str, Any] = self.validated_data
        return actions.WebhookChanges(
            url=data.get("url"),
            description=data.get("description"),
            events=data.get("events"),
            active=data.get("active"),
        )


class WebhookWithSecretSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="Signs every request (Conference-Signature). Shown now only: keep it."
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class DeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_id",
            "status",
            "attempts",
            "next_attempt_at",
            "response_status",
            "response_body",
            "last_error",
            "attempt_log",
            "delivered_at",
            "created_at",
            "payload",
        ]
        read_only_fields = fields


def _owner(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)  # IsAuthenticated ran first
    return user


class WebhookViewSet(viewsets.ModelViewSet[Webhook]):
    """Webhooks of the authenticated user: events of their meetings POSTed to their URLs."""

    serializer_class = WebhookSerializer
    filterset_fields = ["active"]
    search_fields = ["url", "description"]
    ordering_fields = ["created_at", "url"]
    ordering = ["-created_at"]
    http_method_names = ["get", "post", "patch", "delete"]

    def get_queryset(self) -> QuerySet[Webhook]:
        return access.webhooks_owned_by(self.request.user)

    def get_object(self) -> Webhook:
        return access.access_webhook_by_id(self.request.user, self.kwargs["pk"])

    @extend_schema(request=WebhookSerializer, responses={201: WebhookWithSecretSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Register a webhook. The answer holds its secret, which is never shown again."""
        incoming = WebhookSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        webhook = actions.do_create_webhook(_owner(request), incoming.changes())
        return Response(WebhookWithSecretSerializer(webhook).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change the URL, description, events or ``active``."""
        incoming = WebhookSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        webhook = actions.do_update_webhook(self.get_object(), incoming.changes())
        return Response(WebhookSerializer(webhook).data)

    def perform_destroy(self, instance: Webhook) -> None:
        actions.do_delete_webhook(instance)

    @extend_schema(request=None, responses=WebhookWithSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        """Replace the secret at once (the old one stops signing); the answer holds the new one."""
        webhook = actions.do_rotate_secret(self.get_object())
        return Response(WebhookWithSecretSerializer(webhook).data)

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def ping(self, request: Request, pk: str) -> Response:
        """Queue a ``ping`` event to this webhook (409 ``webhook_inactive``)."""
        delivery = actions.do_ping(self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=DeliverySerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request: Request, pk: str) -> Response:
        """The webhook's deliveries, latest first, with the outcome of every attempt."""
        queryset = self.get_object().deliveries.order_by("-created_at", "-id")
        paginator = self.paginator
        assert paginator is not None
        page = paginator.paginate_queryset(queryset, request, view=self)
        assert page is not None
        return paginator.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(parameters=[DELIVERY_ID], request=None, responses={202: DeliverySerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path=r"deliveries/(?P<delivery_id>[^/.]+)/redeliver",
        url_name="redeliver",
        filter_backends=[],
    )
    def redeliver(self, request: Request, pk: str, delivery_id: str) -> Response:
        """Send a finished delivery's event again, as a new delivery (same event id and payload).
        409 ``delivery_pending`` while it is still being attempted, ``webhook_inactive``."""
        delivery = access.access_delivery_of_webhook(self.get_object(), delivery_id)
        again = actions.do_redeliver(delivery)
        return Response(DeliverySerializer(again).data, status=status.HTTP_202_ACCEPTED)
