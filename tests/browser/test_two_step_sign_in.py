"""An admin's first sign-in in a real browser: password, then setting up the authenticator, then the recovery
codes; no CSP violation on the way, and the pages pass axe."""

from __future__ import annotations

import time
from base64 import b32decode

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, csp_violations
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _code(secret_text: str) -> str:
    key = secret_text.replace(" ", "")
    key += "=" * (-len(key) % 8)
    totp = TOTP(b32decode(key))
    totp.time = time.time()
    return f"{totp.token():06d}"


def test_admin_first_sign_in_sets_up_two_step_sign_in(page: Page, live_server, admin_user, console_messages):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    expect(page.get_by_alt_text("QR code holding your authenticator key")).to_be_visible()
    assert_accessible(page, "the two-step set-up page")
    secret = page.locator("#totp-secret").inner_text()
    page.fill("#id_token", _code(secret))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    assert page.locator("#recovery-codes li").count() == 10
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert csp_violations(console_messages) == []
