from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from conference import views

urlpatterns = [
    path("", include("meetings.urls")),
    path("schedule/", include("scheduling.urls")),
    path("accounts/", include("conference.accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("conference.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("healthz", views.healthz, name="healthz"),
]

handler400 = "conference.views.bad_request"
handler403 = "conference.views.permission_denied"
handler404 = "conference.views.not_found"
handler500 = "conference.views.server_error"
