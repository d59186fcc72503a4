"""How a text message leaves the clinic: a small interface, GOV.UK Notify's API behind it, a test double and a
log-only provider for development. ``sms_provider()`` picks one from ``B12_SMS_PROVIDER``."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from typing import Protocol

import jwt
from django.conf import settings

log = logging.getLogger("recommender.reminders")


class DeliveryError(Exception):
    """The provider (or the mail server) did not accept the message; the words say why, without the message."""


class SmsProvider(Protocol):
    def send(self, *, to: str, body: str, reference: str) -> str:
        """Send ``body`` to the mobile number ``to``; return the provider's id for the message."""


class LogSmsProvider:
    """Development: writes one line per message (the reference only, never the number or the words)."""

    def send(self, *, to: str, body: str, reference: str) -> str:
        provider_id = f"log-{uuid.uuid4()}"
        log.info("sms (log provider) reference=%s id=%s", reference, provider_id)
        return provider_id


class FakeSmsProvider:
    """The test double: keeps what it was asked to send; fails the next ``fail_next`` sends."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.fail_next = 0

    def send(self, *, to: str, body: str, reference: str) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise DeliveryError("The test provider refused the message.")
        provider_id = f"fake-{len(self.sent) + 1}"
        self.sent.append({"to": to, "body": body, "reference": reference, "id": provider_id})
        return provider_id


def notify_key_parts(api_key: str) -> tuple[str, str]:
    """A Notify API key is "{name}-{service id (36)}-{secret (36)}": the service id and the secret."""
    if len(api_key) < 74:
        raise DeliveryError("B12_NOTIFY_API_KEY is not a GOV.UK Notify API key.")
    return api_key[-73:-37], api_key[-36:]


def notify_token(api_key: str, *, now: float | None = None) -> str:
    """Notify's authentication: a JWT signed HS256 with the key's secret, ``iss`` the service id, ``iat`` now."""
    service_id, secret = notify_key_parts(api_key)
    return jwt.encode({"iss": service_id, "iat": int(now if now is not None else time.time())}, secret, "HS256")


class NotifySmsProvider:
    """GOV.UK Notify: POST /v2/notifications/sms with a template whose one field, ``((message))``, is the text."""

    def __init__(self, *, api_key: str, template_id: str, base_url: str, timeout: float = 10) -> None:
        self.api_key, self.template_id, self.base_url, self.timeout = api_key, template_id, base_url, timeout

    def request_for(self, *, to: str, body: str, reference: str) -> urllib.request.Request:
        payload = {
            "phone_number": to,
            "template_id": self.template_id,
            "personalisation": {"message": body},
            "reference": reference,
        }
        return urllib.request.Request(  # noqa: S310 (an https URL from the settings)
            self.base_url.rstrip("/") + "/v2/notifications/sms",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {notify_token(self.api_key)}"},
            method="POST",
        )

    def send(self, *, to: str, body: str, reference: str) -> str:
        request = self.request_for(to=to, body=body, reference=reference)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = json.load(response)
        except urllib.error.HTTPError as error:
            raise DeliveryError(f"GOV.UK Notify answered {error.code}.") from None
        except (urllib.error.URLError, TimeoutError, ValueError) as error:
            raise DeliveryError(f"GOV.UK Notify could not be reached ({type(error).__name__}).") from None
        return str(answer.get("id", ""))


_test_provider: FakeSmsProvider | None = None


def sms_provider() -> SmsProvider:
    name = settings.B12_SMS_PROVIDER
    if name == "notify":
        return NotifySmsProvider(
            api_key=settings.B12_NOTIFY_API_KEY,
            template_id=settings.B12_NOTIFY_TEMPLATE_ID,
            base_url=settings.B12_NOTIFY_BASE_URL,
        )
    if name == "fake":
        global _test_provider
        _test_provider = _test_provider or FakeSmsProvider()
        return _test_provider
    return LogSmsProvider()


def fake_sms_provider() -> FakeSmsProvider:
    """The double ``B12_SMS_PROVIDER = "fake"`` uses, fresh (for a test)."""
    global _test_provider
    _test_provider = FakeSmsProvider()
    return _test_provider
