"""Admin pages for webhooks: each webhook with its latest deliveries, and the delivery log with
filters, search and a "Redeliver" action. Secrets are never shown here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from conference.api import ApiError
from webhooks import actions
from webhooks.events import SUBSCRIBABLE
from webhooks.models import Webhook, WebhookDelivery

INLINE_DELIVERIES = 20
DELIVERY_FIELDS = (
    "event",
    "event_id",
    "status",
    "attempts",
    "response_status",
    "last_error",
    "next_attempt_at",
    "delivered_at",
    "created_at",
)
T = TypeVar("T")


class WebhookForm(forms.ModelForm[Webhook]):
    """The same checks as the API: http(s), no private targets, known events."""

    events = forms.MultipleChoiceField(
        choices=[(name, name) for name in SUBSCRIBABLE], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Webhook
        fields = ["owner", "url", "description", "events", "active"]

    def clean_url(self) -> str:
        return self._checked("url", actions.check_url)

    def clean_events(self) -> list[str]:
        return self._checked("events", actions.check_events)

    def _checked(self, name: str, check: Callable[[Any], T]) -> T:
        try:
            return check(self.cleaned_data[name])
        except ApiError as exc:
            raise forms.ValidationError(str(exc.detail), code=exc.error_code) from exc


class DeliveryInline(admin.TabularInline[WebhookDelivery, Webhook]):
    model = WebhookDelivery
    fields = DELIVERY_FIELDS
    readonly_fields = DELIVERY_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = f"latest {INLINE_DELIVERIES} deliveries"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        queryset = super().get_queryset(request).order_by("-created_at", "-id")
        match = request.resolver_match
        webhook_id = match.kwargs.get("object_id") if match is not None else None
        if webhook_id is None:
            return queryset.none()
        latest = queryset.filter(webhook_id=webhook_id).values_list("pk", flat=True)[:INLINE_DELIVERIES]
        return queryset.filter(pk__in=list(latest))


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin[Webhook]):
    form = WebhookForm
    list_display = ["id", "owner", "url", "active", "events", "created_at"]
    list_filter = ["active", "created_at"]
    search_fields = ["url", "description", "owner__email"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]
    readonly_fields = ["all_deliveries", "created_at", "updated_at"]
    inlines = [DeliveryInline]

    @admin.display(description="Delivery log")
    def all_deliveries(self, webhook: Webhook) -> str:
        if not webhook.pk:
            return "-"
        url = reverse("admin:webhooks_webhookdelivery_changelist") + f"?webhook__id__exact={webhook.pk}"
        return format_html('<a href="{}">All {} deliveries</a>', url, webhook.deliveries.count())


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin[WebhookDelivery]):
    list_display = ["id", "webhook", "event", "status", "attempts", "response_status", "created_at", "delivered_at"]
    list_filter = ["status", "event", "created_at"]
    search_fields = ["webhook__url", "webhook__owner__email", "event"]
    list_select_related = ["webhook"]
    date_hierarchy = "created_at"
    readonly_fields = ("webhook", *DELIVERY_FIELDS, "response_body", "attempt_log", "payload")
    fields = readonly_fields
    actions = ["redeliver"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Redeliver the selected deliveries (as new deliveries)")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        queued, refused = 0, []
        for delivery in queryset.select_related("webhook"):
            try:
                actions.do_redeliver(delivery)
                queued += 1
            except ApiError as exc:
                refused.append(f"{delivery.pk}: {exc.detail}")
        self.message_user(request, f"{queued} delivery(ies) queued again.")
        if refused:
            self.message_user(request, "Not redelivered: " + "; ".join(refused), level="warning")
