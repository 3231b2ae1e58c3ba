"""Signals the recordings app sends for other apps to react to (webhooks), after the commit,
with ids only; a failing listener is logged, never raised (``meetings.signals.send_signal_on_commit``)."""

from __future__ import annotations

from django.dispatch import Signal

#: A recording was composed and stored (status → ready). Argument: ``recording_id``.
recording_ready = Signal()
