"""Signals the live rooms send for other apps (webhooks), after commit, with ids only (see
``meetings.signals.send_signal_on_commit``)."""

from __future__ import annotations

from django.dispatch import Signal

#: Breakout rooms opened. Arguments: ``meeting_id``, ``rooms`` (room ids).
breakout_opened = Signal()
#: Breakout rooms closed; everyone is back in the main room. Arguments: ``meeting_id``, ``rooms``.
breakout_closed = Signal()
