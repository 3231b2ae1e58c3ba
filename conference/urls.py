from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from conference import views

docs_styles = csp_update({"style-src": [UNSAFE_INLINE]})

urlpatterns = [
    path("", include("meetings.urls")),
    path("", include("rooms.urls")),
    path("schedule/", include("scheduling.urls")),
    path("accounts/", include("accounts.urls")),
    path("recordings/", include("meetings.recordings.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("conference.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI and ReDoc style themselves with inline <style>: allowed on these two pages only.
    path("api/docs/", docs_styles(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
    path("api/redoc/", docs_styles(SpectacularRedocView.as_view(url_name="api-schema")), name="api-redoc"),
    path("healthz", views.healthz, name="healthz"),
]

handler400 = "conference.views.bad_request"
handler403 = "conference.views.permission_denied"
handler404 = "conference.views.not_found"
handler500 = "conference.views.server_error"
