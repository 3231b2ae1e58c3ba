from django.urls import path

from meetings import views

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("meetings/new/", views.new_instant_meeting, name="new_instant_meeting"),
    path("join/", views.join_by_code, name="join_by_code"),
    path("m/<str:code>", views.meeting_page, name="meeting"),
    path("m/<str:code>/settings", views.meeting_settings, name="meeting_settings"),
    path("m/<str:code>/end", views.end_meeting, name="end_meeting"),
    path("m/<str:code>/delete", views.delete_meeting, name="delete_meeting"),
]
