"""A fixed-size ring of recently sent packets indexed by sequence number, for answering NACKs.

Each subscriber slot keeps what it sent as ``(sequence, timestamp, packet)`` where ``packet`` is
the producer's shared ``InboundPacket``: a reference, not a copy of the payload, so the memory
per slot is one pointer per entry.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class PacketCache(Generic[T]):
    def __init__(self, size: int = 512) -> None:
        if size <= 0 or size & (size - 1):
            raise ValueError("size must be a power of two")
        self._mask = size - 1
        self._keys: list[int] = [-1] * size
        self._items: list[T | None] = [None] * size

    def put(self, sequence: int, item: T) -> None:
        index = sequence & self._mask
        self._keys[index] = sequence
        self._items[index] = item

    def get(self, sequence: int) -> T | None:
        index = sequence & self._mask
        if self._keys[index] != sequence:
            return None
        return self._items[index]

    def clear(self) -> None:
        size = self._mask + 1
        self._keys = [-1] * size
        self._items = [None] * size
