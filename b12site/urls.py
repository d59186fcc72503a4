from django.contrib import admin
from django.urls import include, path

from recommender.ops import views as ops_views

urlpatterns = [
    path("healthz", ops_views.healthz, name="healthz"),
    path("readyz", ops_views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("", include("recommender.urls")),
]

handler400 = "recommender.errors.bad_request"
handler403 = "recommender.errors.permission_denied"
handler404 = "recommender.errors.page_not_found"
handler500 = "recommender.ops.outages.server_error"
