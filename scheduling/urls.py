from django.urls import path

from scheduling import views

urlpatterns = [
    path("", views.schedule, name="schedule"),
]
