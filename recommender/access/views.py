"""Pages for access: the calendar-feed address."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from recommender.access import selectors, services
from recommender.access.forms import TokenRevokeForm
from recommender.models import AccessToken
from recommender.web.http import HtmxHttpRequest


@require_http_methods(["GET", "POST"])
@permission_required("recommender.view_treatmentplan", raise_exception=True)
def calendar_feed_settings(request: HtmxHttpRequest) -> HttpResponse:
    new_url = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            form = TokenRevokeForm(request.POST)
            if not form.is_valid():
                raise Http404("No such feed address")
            token = get_object_or_404(selectors.calendar_tokens(user=request.user), pk=form.cleaned_data["token"])
            services.access_token_revoke(token=token)
            messages.success(request, "Feed address revoked: calendars using it stop updating.")
            return redirect("calendar-feed")
        _, raw = services.access_token_issue(user=request.user, purpose=AccessToken.Purpose.CALENDAR, name="worklist")
        new_url = request.build_absolute_uri(reverse("worklist-feed", kwargs={"token": raw}))
    tokens = selectors.calendar_tokens(user=request.user)
    return render(request, "recommender/calendar_feed.html", {"tokens": tokens, "new_url": new_url})
