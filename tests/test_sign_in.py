"""Issue 13 items 7 and 8: lockout by name and address, the second factor (enrolment and sign-in end to end through
the real forms), the idle timeout and the absolute lifetime."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from recommender.access import middleware as session_rules
from recommender.roles import ADMIN, NURSE

from .conftest import PASSWORD, make_user
from .factories import make_patient

LOGIN = "/login/"


@pytest.fixture(autouse=True)
def _no_code_throttle(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def _login(client, username, password=PASSWORD, address="10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def _code(device: TOTPDevice, offset: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset * device.step
    return f"{totp.token():06d}"


def _wrong(device: TOTPDevice) -> str:
    right = {_code(device, o) for o in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in right)


# Item 7: lockout by user name and address together, and by address


def test_wrong_passwords_from_elsewhere_do_not_lock_the_real_user_out(nurse):
    attacker = Client()
    for _ in range(5):
        _login(attacker, nurse.username, "not-the-password", address="203.0.113.9")
    assert _login(attacker, nurse.username, address="203.0.113.9").status_code == 429
    # The nurse, at her ward's address, still signs in.
    response = _login(Client(), nurse.username, address="10.0.0.1")
    assert response.status_code == 302


def test_many_failures_from_one_address_lock_the_address_whatever_the_names(settings, clinician):
    settings.B12_LOCKOUT_ADDRESS_FAILURES = 8
    client = Client()
    for i in range(8):  # eight names, one failure each: no name reaches five
        _login(client, f"guess{i}", "not-the-password", address="203.0.113.7")
    assert _login(Client(), clinician.username, address="203.0.113.7").status_code == 429
    assert _login(Client(), clinician.username, address="10.0.0.2").status_code == 302


def test_the_lock_ends_after_the_cooldown(nurse, settings):
    for _ in range(5):
        _login(Client(), nurse.username, "not-the-password")
    assert _login(Client(), nurse.username).status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME)
    assert _login(Client(), nurse.username).status_code == 302


def test_failure_words_never_say_whether_a_user_exists(nurse):
    unknown = _login(Client(), "no_such_person", "not-the-password").content.decode()
    known = _login(Client(), nurse.username, "not-the-password").content.decode()
    strip = lambda html: re.findall(r"<(?:h1|div)[^>]*>([^<]+)<", html)  # noqa: E731 (the words shown)
    assert strip(unknown) == strip(known)
    assert "did not match" in unknown
    for _ in range(5):
        _login(Client(), "no_such_person", "not-the-password", address="10.0.0.3")
        _login(Client(), nurse.username, "not-the-password", address="10.0.0.4")
    locked_unknown = _login(Client(), "no_such_person", address="10.0.0.3")
    locked_known = _login(Client(), nurse.username, address="10.0.0.4")
    assert locked_unknown.status_code == locked_known.status_code == 429
    assert strip(locked_unknown.content.decode()) == strip(locked_known.content.decode())


# Item 7: the second factor, end to end


@pytest.mark.second_step
def test_admin_enrols_at_first_sign_in_then_signs_in_with_a_code(admin_user):
    client = Client()
    response = _login(client, admin_user.username)
    assert response.status_code == 302
    # Anything else sends the admin to set-up; the admin site too.
    for url in ("/", "/patients/", "/admin/"):
        page = client.get(url)
        assert page.status_code == 302 and page["Location"].startswith(reverse("two-factor-setup")), url
    setup = client.get(reverse("two-factor-setup"))
    body = setup.content.decode()
    assert "otpauth://totp/B12%20clinic%3Aadmin_lee" in body
    assert 'src="data:image/svg+xml' in body
    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)

    wrong = client.post(reverse("two-factor-setup"), {"token": _wrong(device)})
    assert "did not match" in wrong.content.decode()
    assert client.get("/").status_code == 302  # still not through

    done = client.post(reverse("two-factor-setup"), {"token": _code(device)})
    codes = re.findall(r"<li>(\w+)</li>", done.content.decode())
    assert len(codes) == 10
    assert client.get("/").status_code == 200
    assert client.get("/admin/").status_code == 200

    # Next sign-in: password, then the code.
    fresh = Client()
    _login(fresh, admin_user.username)
    assert fresh.get("/")["Location"].startswith(reverse("two-factor-verify"))
    assert fresh.get("/admin/")["Location"].startswith(reverse("two-factor-verify"))
    device.refresh_from_db()
    page = fresh.post(reverse("two-factor-verify"), {"token": _code(device, 1), "next": "/patients/"})
    assert page.status_code == 302 and page["Location"] == "/patients/"
    assert fresh.get("/patients/").status_code == 200

    # A recovery code works once.
    for expected in ("/", None):
        other = Client()
        _login(other, admin_user.username)
        response = other.post(reverse("two-factor-verify"), {"token": codes[0]})
        if expected:
            assert response["Location"] == expected
        else:
            assert "did not match" in response.content.decode()


@pytest.mark.second_step
def test_staff_without_a_role_must_enrol_too(django_user_model):
    user = make_user(django_user_model, "ops_staff", None)
    user.is_staff = True
    user.save()
    client = Client()
    _login(client, user.username)
    assert client.get("/")["Location"].startswith(reverse("two-factor-setup"))


@pytest.mark.second_step
def test_second_factor_is_optional_for_a_nurse_and_then_asked_for(nurse):
    client = Client()
    _login(client, nurse.username)
    assert client.get("/").status_code == 200  # not required
    client.get(reverse("two-factor-setup"))
    device = TOTPDevice.objects.get(user=nurse)
    client.post(reverse("two-factor-setup"), {"token": _code(device)})
    assert TOTPDevice.objects.get(user=nurse).confirmed

    later = Client()
    _login(later, nurse.username)
    assert later.get("/")["Location"].startswith(reverse("two-factor-verify"))
    # The API by session waits for the second step as well (401 JSON, not a page).
    api = later.post("/api/v1/recommendation", {}, content_type="application/json")
    assert api.status_code == 401 and "second step" in api.json()["errors"]["auth"][0]


@pytest.mark.second_step
def test_wrong_codes_count_towards_the_lockout(nurse):
    device = TOTPDevice.objects.create(user=nurse, name="phone", confirmed=True)
    client = Client()
    _login(client, nurse.username)
    for _ in range(5):
        response = client.post(reverse("two-factor-verify"), {"token": _wrong(device)}, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    # Locked: even the right code is not tried, and the session is not verified.
    response = client.post(reverse("two-factor-verify"), {"token": _code(device)}, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 429
    assert client.get("/", REMOTE_ADDR="10.0.0.1").status_code == 302
    # And the password step is locked for that name at that address.
    assert _login(Client(), nurse.username, address="10.0.0.1").status_code == 429


@pytest.mark.second_step
def test_an_admin_cannot_turn_the_required_second_factor_off(admin_user):
    TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    client = Client()
    client.force_login(admin_user)
    from .conftest import mark_second_factor_verified

    mark_second_factor_verified(client, admin_user)
    client.post(reverse("two-factor-setup"), {"action": "remove"})
    assert TOTPDevice.objects.filter(user=admin_user).exists()


def test_admin_group_member_without_staff_needs_a_second_factor_too(django_user_model):
    from recommender.access.twofactor import ENROL, second_factor_state

    user = make_user(django_user_model, "plain_admin", None)
    user.groups.add(Group.objects.get(name=ADMIN))
    assert second_factor_state(user) == ENROL


# Item 8: idle timeout and the absolute lifetime


def _age_session(client, *, idle: int = 0, since_sign_in: int = 0):
    session = client.session
    now = int(time.time())
    session[session_rules.LAST_SEEN_KEY] = now - idle
    session[session_rules.SIGNED_IN_KEY] = now - since_sign_in
    session.save()


def test_a_session_idle_longer_than_the_limit_is_signed_out(clinician_client, settings):
    settings.B12_IDLE_MINUTES = 15
    assert clinician_client.get("/patients/").status_code == 200
    _age_session(clinician_client, idle=15 * 60 + 5)
    response = clinician_client.get("/patients/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.path == LOGIN
    assert parse_qs(target.query) == {"next": ["/patients/"], "ended": ["idle"]}
    assert "_auth_user_id" not in clinician_client.session
    page = clinician_client.get(response["Location"]).content.decode()
    assert "signed out after 15 minutes without activity" in page


def test_activity_within_the_limit_keeps_the_session(clinician_client, settings):
    settings.B12_IDLE_MINUTES = 15
    _age_session(clinician_client, idle=14 * 60)
    assert clinician_client.get("/patients/").status_code == 200
    assert clinician_client.get("/patients/").status_code == 200


def test_the_idle_minutes_come_from_the_setting(clinician_client, settings):
    settings.B12_IDLE_MINUTES = 2
    _age_session(clinician_client, idle=3 * 60)
    assert clinician_client.get("/patients/").status_code == 302


def test_htmx_after_timeout_gets_hx_redirect_and_is_told_the_form_was_not_saved(clinician, client):
    client.force_login(clinician)
    patient = make_patient(by=clinician)
    page = reverse("assessment-create", args=[patient.pk])
    _age_session(client, idle=16 * 60)
    response = client.post(
        reverse("assessment-preview", args=[patient.pk]),
        {"b12_value": "150"},
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"},
    )
    assert response.status_code == 200
    target = urlsplit(response["HX-Redirect"])
    assert target.path == LOGIN
    assert parse_qs(target.query) == {"next": [page], "ended": ["idle"], "unsaved": ["1"]}
    notice = client.get(response["HX-Redirect"]).content.decode()
    assert "was <strong>not saved</strong>" in notice


def test_the_absolute_lifetime_stays_whatever_the_activity(clinician_client, settings):
    _age_session(clinician_client, idle=10, since_sign_in=settings.SESSION_COOKIE_AGE + 1)
    response = clinician_client.get("/patients/")
    assert response.status_code == 302
    assert "ended=expired" in response["Location"]


def test_pages_carry_the_idle_warning_script_with_the_nonce(clinician_client, settings):
    settings.B12_IDLE_MINUTES = 15
    body = clinician_client.get("/").content.decode()
    assert 'data-idle-seconds="900"' in body
    script = re.search(r'<script src="[^"]*js/idle\.js" nonce="([^"]+)"', body)
    assert script and script.group(1)
    assert "<script>" not in body  # no inline script


def test_stay_signed_in_is_activity(clinician_client, settings):
    settings.B12_IDLE_MINUTES = 15
    _age_session(clinician_client, idle=14 * 60 + 30)
    assert clinician_client.get(reverse("session-keepalive")).status_code == 204
    assert time.time() - clinician_client.session[session_rules.LAST_SEEN_KEY] < 5


def test_nurse_role_matrix_unchanged_for_the_api(client, django_user_model):
    client.force_login(make_user(django_user_model, "n2", NURSE))
    response = client.post("/api/v1/recommendation", {"b12": {"value": 150, "unit": "pg/mL"}}, "application/json")
    assert response.status_code == 200
