from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from cca_notices import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    # Before the admin's catch-all: staff previews of any notice for any account (PDF, PNG).
    path("admin/notices/preview/", include("cca_notices.mailers.urls")),
    # The staff home and dashboard first: /admin/ itself is the staff home (docs/admin.md).
    path("admin/", include("cca_notices.dashboard_urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: no inline script, so the CSP holds.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("cca_notices.api_urls")),
    path("", include("optouts.urls")),
]

# Customer pages and the API answer errors without a traceback (cca_notices/errors.py).
handler400 = "cca_notices.errors.bad_request"
handler403 = "cca_notices.errors.permission_denied"
handler404 = "cca_notices.errors.page_not_found"
handler500 = "cca_notices.errors.server_error"
