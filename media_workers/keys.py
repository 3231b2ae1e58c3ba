"""Redis key names of the worker registry and room assignment (the Lua scripts in ``lua/``
build the same names from the prefix). Only the media workers know them: the web tier asks
a worker (``room.assign``) instead of reading Redis."""

from __future__ import annotations

from dataclasses import dataclass


def text(value: bytes | str) -> str:
    """A Redis reply item as text."""
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class Keys:
    prefix: str

    @property
    def workers(self) -> str:
        """Set of registered worker ids (dead ones until they are reaped)."""
        return f"{self.prefix}:workers"

    def worker(self, worker_id: str) -> str:
        """Hash of a worker's registration; expires unless heartbeats refresh it."""
        return f"{self.prefix}:worker:{worker_id}"

    def worker_rooms(self, worker_id: str) -> str:
        """Hash: room id -> when it was assigned to the worker (ms)."""
        return f"{self.prefix}:worker:{worker_id}:rooms"

    def room(self, room_id: str) -> str:
        """String: the id of the worker serving the room."""
        return f"{self.prefix}:room:{room_id}"
