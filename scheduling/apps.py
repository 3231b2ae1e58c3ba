from django.apps import AppConfig
from django.db.models.signals import pre_delete


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from meetings.models import Meeting
        from scheduling.signals import cancel_schedule_of_deleted_meeting

        pre_delete.connect(
            cancel_schedule_of_deleted_meeting, sender=Meeting, dispatch_uid="scheduling.cancel_on_delete"
        )
