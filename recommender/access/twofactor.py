"""The second factor: TOTP (an authenticator app) with single-use recovery codes, from django-otp.

Required for staff and the admin group; optional for everyone else, and once enrolled, always asked for. A session
is in one of three states after the password: "none" (no second factor needed), "verify" (enrolled: the code is
asked for) or "enrol" (required but not yet set up: the set-up page is the only way on). Wrong codes count as failed
sign-ins for django-axes, so the lockout covers this step as it covers the password."""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import signals as auth_signals
from django.db import transaction
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ..roles import ADMIN

STATE_SESSION_KEY = "b12_second_factor"
NONE, VERIFY, ENROL = "none", "verify", "enrol"
RECOVERY_CODES = 10
TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"


def second_factor_required(user) -> bool:
    return bool(user.is_staff or user.is_superuser or user.groups.filter(name=ADMIN).exists())


def second_factor_state(user) -> str:
    if any(isinstance(device, TOTPDevice) for device in devices_for_user(user, confirmed=True)):
        return VERIFY
    return ENROL if second_factor_required(user) else NONE


def session_state(request) -> str:
    """The session's state, worked out once (at sign-in, or on the first request of an older session)."""
    state = request.session.get(STATE_SESSION_KEY)
    if state not in {NONE, VERIFY, ENROL}:
        state = request.session[STATE_SESSION_KEY] = second_factor_state(request.user)
    return state


def has_authenticator(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@transaction.atomic
def enrolment_device(*, user) -> TOTPDevice:
    """The unconfirmed authenticator being set up (one at a time), created on first call."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


@transaction.atomic
def recovery_codes_issue(*, user) -> list[str]:
    """A fresh set of recovery codes (the old ones stop working); shown once."""
    device, _ = StaticDevice.objects.get_or_create(user=user, name=RECOVERY_NAME, defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def _credentials(user) -> dict:
    return {"username": user.get_username()}


def locked(request, user) -> bool:
    """Whether django-axes has locked this name at this address (or the address): the code is not even tried."""
    AxesProxyHandler.update_request(request)
    credentials = _credentials(user)
    if AxesProxyHandler.is_locked(request, credentials):
        request.axes_locked_out = True
        request.axes_credentials = credentials
        return True
    return False


def _failed(request, user) -> None:
    """A wrong code is a failed sign-in: django-axes counts it (and marks the request locked at the limit)."""
    auth_signals.user_login_failed.send(sender=__name__, credentials=_credentials(user), request=request)


def confirm_enrolment(request, *, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm the authenticator with its first code: the session becomes verified and recovery codes are issued
    (returned, to be shown once). None for a wrong code (counted as a failed sign-in)."""
    with transaction.atomic():
        if not device.verify_token(_digits(token)):
            ok = False
        else:
            ok = True
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=device.user, confirmed=False).delete()
            codes = recovery_codes_issue(user=device.user)
    if not ok:
        _failed(request, device.user)
        return None
    otp_login(request, device)
    request.session[STATE_SESSION_KEY] = VERIFY
    return codes


def verify(request, *, token: str) -> bool:
    """Check a code from the authenticator or a recovery code (used up); on success the session is verified."""
    user = request.user
    code = _digits(token)
    with transaction.atomic():
        device = None
        for candidate in devices_for_user(user, confirmed=True, for_verify=True):
            if candidate.verify_token(code if isinstance(candidate, TOTPDevice) else token.strip()):
                device = candidate
                break
    if device is None:
        _failed(request, user)
        return False
    otp_login(request, device)
    return True


@transaction.atomic
def remove(*, user) -> None:
    """Turn the second factor off (only for users who need not have one)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def _digits(token: str) -> str:
    return "".join(ch for ch in (token or "") if not ch.isspace())


def secret_text(device: TOTPDevice) -> str:
    """The key as people type it into an app: base32 in groups of four."""
    from base64 import b32encode

    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))
