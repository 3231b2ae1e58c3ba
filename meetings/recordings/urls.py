from django.urls import path

from meetings.recordings import views

urlpatterns = [
    path("", views.recordings_page, name="recordings"),
    path("<int:recording_id>/delete", views.delete_recording, name="delete_recording"),
    path("file/<str:token>", views.recording_file, name="recording_file"),
]
