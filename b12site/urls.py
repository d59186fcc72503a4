from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("recommender.urls")),
]

handler400 = "recommender.web.errors.bad_request"
handler403 = "recommender.web.errors.permission_denied"
handler404 = "recommender.web.errors.page_not_found"
handler500 = "recommender.web.errors.server_error"
