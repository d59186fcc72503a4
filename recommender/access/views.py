"""Pages for access: the calendar-feed address; the second sign-in step (the code after the password, setting up
an authenticator, recovery codes); the idle timeout's "stay signed in"."""

from __future__ import annotations

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from recommender.access import selectors, services, twofactor
from recommender.access.forms import TokenRevokeForm
from recommender.models import AccessToken
from recommender.web.errors import error_page
from recommender.web.http import HtmxHttpRequest
from recommender.web.plaintext import PlainTextForm


@require_http_methods(["GET", "POST"])
@permission_required("recommender.view_treatmentplan", raise_exception=True)
def calendar_feed_settings(request: HtmxHttpRequest) -> HttpResponse:
    new_url = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in {"issue", "revoke"}:  # only an explicit "issue" makes an address
            return error_page(request, 400, detail="Choose “Create a feed address” or “Revoke”.")
        if action == "revoke":
            form = TokenRevokeForm(request.POST)
            if not form.is_valid():
                raise Http404("No such feed address")
            token = get_object_or_404(selectors.calendar_tokens(user=request.user), pk=form.cleaned_data["token"])
            services.access_token_revoke(token=token)
            messages.success(request, "Feed address revoked: calendars using it stop updating.")
            return redirect("calendar-feed")
        # Issuing revokes the user's previous address: one live address per user.
        _, raw = services.access_token_issue(user=request.user, purpose=AccessToken.Purpose.CALENDAR, name="worklist")
        new_url = request.build_absolute_uri(reverse("worklist-feed", kwargs={"token": raw}))
    tokens = selectors.calendar_tokens(user=request.user)
    return render(request, "recommender/calendar_feed.html", {"tokens": tokens, "new_url": new_url})


# Second-factor pages: the code after the password, setting up an authenticator, recovery codes; the idle
# timeout's "stay signed in".


class CodeForm(PlainTextForm):
    token = forms.CharField(
        label="Code",
        max_length=32,
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    if request.user.is_verified() or twofactor.session_state(request) != twofactor.VERIFY:
        return redirect(_next(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        if twofactor.locked(request, request.user):
            return HttpResponse(status=429)  # django-axes's middleware answers with the lockout page
        if form.is_valid() and twofactor.verify(request, token=form.cleaned_data["token"]):
            return redirect(_next(request))
        if not form.errors:
            form.add_error("token", "That code did not match. Check the time on your phone and try again.")
    return render(request, "registration/two_factor_verify.html", {"form": form, "next": _next(request)})


@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    required = twofactor.second_factor_required(user)
    enrolled = twofactor.has_authenticator(user)
    if enrolled and not user.is_verified():
        return redirect("two-factor-verify")
    if request.method == "POST" and enrolled:
        action = request.POST.get("action")
        if action == "recovery-codes":
            codes = twofactor.recovery_codes_issue(user=user)
            return render(request, "registration/two_factor_codes.html", {"codes": codes, "next": "/"})
        if action == "remove" and not required:
            twofactor.remove(user=user)
            request.session[twofactor.STATE_SESSION_KEY] = twofactor.NONE
            messages.success(request, "Two-step sign-in is off. You can set it up again at any time.")
            return redirect("two-factor-setup")
        return error_page(request, 400, detail="Choose one of the buttons.")
    if enrolled:
        return render(request, "registration/two_factor_setup.html", {"enrolled": True, "required": required})
    device = twofactor.enrolment_device(user=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        if twofactor.locked(request, user):
            return HttpResponse(status=429)
        if form.is_valid():
            codes = twofactor.confirm_enrolment(request, device=device, token=form.cleaned_data["token"])
            if codes is not None:
                return render(request, "registration/two_factor_codes.html", {"codes": codes, "next": _next(request)})
            form.add_error("token", "That code did not match. Check the time on your phone and try again.")
    uri = device.config_url
    context = {
        "form": form,
        "required": required,
        "secret": twofactor.secret_text(device),
        "otpauth_uri": uri,
        "qr_svg": segno.make(uri, error="m").svg_data_uri(scale=4, border=2),
        "next": _next(request),
    }
    return render(request, "registration/two_factor_setup.html", context)


@login_not_required  # answers 204 or, signed out, the idle middleware's redirect: never the login page's HTML
@never_cache
@require_GET
def session_keepalive(request: HttpRequest) -> HttpResponse:
    """'Stay signed in': a request is activity, so the idle clock starts again."""
    return HttpResponse(status=204 if request.user.is_authenticated else 401)
