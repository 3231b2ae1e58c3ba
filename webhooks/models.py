from __future__ import annotations

from django.conf import settings
from django.db import models

from webhooks.signatures import new_secret


class Webhook(models.Model):
    """An integrator's endpoint: the events of its owner's meetings it subscribes to are POSTed
    to ``url``, signed with ``secret`` (shown to the owner on creation and rotation only)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(max_length=2000, help_text="http(s) URL the events are POSTed to.")
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="Names of the events it subscribes to.")
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    active = models.BooleanField(default=True, help_text="Inactive webhooks receive nothing.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "active"])]

    def __str__(self) -> str:
        return f"Webhook {self.pk} → {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event on its way to one webhook: the payload and the outcome of every attempt.

    ``next_attempt_at`` is when the next attempt is due while pending (during an attempt: the end
    of its lease); the beat sweep queues pending deliveries whose time passed long ago."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    event_id = models.UUIDField(help_text="The same for every webhook receiving this event (and redeliveries).")
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="HTTP status of the last answer."
    )
    response_body = models.TextField(blank=True, help_text="The start of the last answer's body.")
    last_error = models.TextField(blank=True)
    attempt_log = models.JSONField(default=list, help_text="One entry per attempt: time, status, error, duration.")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["webhook", "-created_at"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} of {self.event} ({self.status})"
