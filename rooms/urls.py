"""Pages of the live rooms (composed by ``conference.urls``)."""

from django.urls import path

from rooms import views

urlpatterns = [
    path("m/<str:code>/breakouts", views.breakout_setup_page, name="breakout_setup"),
]
