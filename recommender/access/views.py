"""Pages for access: the calendar-feed address."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from recommender.access import services
from recommender.models import AccessToken
from recommender.web.http import HtmxHttpRequest


@require_http_methods(["GET", "POST"])
@permission_required("recommender.view_treatmentplan", raise_exception=True)
def calendar_feed_settings(request: HtmxHttpRequest) -> HttpResponse:
    new_url = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            try:
                token_id = UUID(request.POST.get("token", ""))
            except ValueError:
                raise Http404("No such feed address") from None
            token = get_object_or_404(AccessToken, pk=token_id, user=request.user)
            services.access_token_revoke(token=token)
            messages.success(request, "Feed address revoked: calendars using it stop updating.")
            return redirect("calendar-feed")
        _, raw = services.access_token_issue(user=request.user, purpose=AccessToken.Purpose.CALENDAR, name="worklist")
        new_url = request.build_absolute_uri(reverse("worklist-feed", kwargs={"token": raw}))
    tokens = AccessToken.objects.filter(user=request.user, purpose=AccessToken.Purpose.CALENDAR)
    return render(request, "recommender/calendar_feed.html", {"tokens": tokens, "new_url": new_url})
