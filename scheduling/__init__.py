"""Scheduling: planned meetings, recurrence, invitations, RSVP and calendar feeds.

May use ``meetings``; ``meetings`` never imports this app.
"""
