"""Meetings: the meeting record, join codes, access rules, pages, REST API and the room's WebSocket."""
