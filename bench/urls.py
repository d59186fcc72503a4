from django.http import HttpResponse
from django.urls import include, path


def bare(request):
    """The floor: the same middleware (session, login required, CSP) and nothing else."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/bare", bare), path("", include("b12site.urls"))]
