from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models


class RecordingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Recording(models.Model):
    """One recording of a meeting: its track files (in the spool folder, written by an SFU
    worker) become one MP4 + thumbnail in the storage (``default_storage``, names kept here)."""

    meeting = models.ForeignKey("meetings.Meeting", on_delete=models.CASCADE, related_name="recordings")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=RecordingStatus.choices, default=RecordingStatus.PENDING)
    failure_reason = models.TextField(blank=True)
    progress = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    attempts = models.PositiveIntegerField(default=0, help_text="Composition runs started.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of the composition.")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    file_name = models.CharField(max_length=300, blank=True, help_text="Name of the MP4 in the storage.")
    thumbnail_name = models.CharField(max_length=300, blank=True, help_text="Name of the JPEG in the storage.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["meeting", "-started_at"]), models.Index(fields=["status", "heartbeat_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="recording_progress_at_most_100")
        ]

    def __str__(self) -> str:
        return f"Recording {self.pk} of {self.meeting_id} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        return None if self.duration_ms is None else self.duration_ms / 1000
