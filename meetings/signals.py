"""Signals the meetings app sends for other apps to react to (webhooks). The meetings app knows
nothing of its listeners; they connect in their own ``AppConfig.ready``.

Signals are sent after the transaction that made the change commits, with ids only
(``meeting_id``), through ``send_signal_on_commit``: a listener that fails is logged, never raised, so
it cannot break the meeting.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

#: The room went live: its first participant entered (status scheduled → live). A room that
#: emptied is scheduled again, so a meeting can start more than once. Argument: ``meeting_id``.
meeting_started = Signal()
#: The meeting was ended for everyone (status → ended). Argument: ``meeting_id``.
meeting_ended = Signal()
#: Everyone was sent away from the meeting (it ended, or was ended again while people were in
#: it): the live rooms close their connections. Arguments: ``meeting_id``, ``by`` (participant
#: id or None), ``waiting_ids`` (the people who were in the waiting room).
ended_for_everyone = Signal()


def send_signal_on_commit(signal: Signal, sender: type, **arguments: Any) -> None:
    """Sends ``signal`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_robust(signal, sender, arguments))


def send_robust(signal: Signal, sender: type, arguments: dict[str, Any]) -> None:
    for receiver, result in signal.send_robust(sender=sender, **arguments):
        if isinstance(result, Exception):
            logger.error("signal receiver %r failed for %r", receiver, arguments, exc_info=result)
