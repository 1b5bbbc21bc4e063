from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/notices/preview/", include("cca_notices.mailers.urls")),
    path("admin/", admin.site.urls),
]
