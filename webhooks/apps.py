from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from meetings.recordings.signals import recording_ready
        from meetings.signals import meeting_ended, meeting_started
        from rooms.signals import breakout_closed, breakout_opened
        from webhooks import receivers

        meeting_started.connect(receivers.on_meeting_started, dispatch_uid="webhooks.meeting_started")
        meeting_ended.connect(receivers.on_meeting_ended, dispatch_uid="webhooks.meeting_ended")
        recording_ready.connect(receivers.on_recording_ready, dispatch_uid="webhooks.recording_ready")
        breakout_opened.connect(receivers.on_breakout_opened, dispatch_uid="webhooks.breakout_opened")
        breakout_closed.connect(receivers.on_breakout_closed, dispatch_uid="webhooks.breakout_closed")
