from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    name = "meetings.recordings"
    label = "recordings"
    verbose_name = "Recordings"
    default_auto_field = "django.db.models.BigAutoField"
