from django.apps import AppConfig


class RoomsConfig(AppConfig):
    name = "rooms"
    label = "rooms"
    verbose_name = "Live rooms"

    def ready(self) -> None:
        from meetings.signals import ended_for_everyone
        from rooms import breakout_end
        from rooms.host_controls import on_ended_for_everyone

        ended_for_everyone.connect(on_ended_for_everyone, dispatch_uid="rooms.ended_for_everyone")
        ended_for_everyone.connect(breakout_end.on_ended_for_everyone, dispatch_uid="rooms.close_breakouts_on_end")
