from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("recommender.urls")),
]

handler400 = "recommender.errors.bad_request"
handler403 = "recommender.errors.permission_denied"
handler404 = "recommender.errors.page_not_found"
handler500 = "recommender.errors.server_error"
