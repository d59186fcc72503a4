"""Start-up checks for reminders: a text-message provider that exists and, for GOV.UK Notify, its key and template."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from .providers import DeliveryError, notify_key_parts

SMS_PROVIDERS = ("log", "notify", "fake")


@register()
def check_sms_provider(app_configs=None, **kwargs) -> list[Error]:
    name = settings.B12_SMS_PROVIDER
    if name not in SMS_PROVIDERS:
        return [
            Error(
                f"B12_SMS_PROVIDER is {name!r}; it must be one of {', '.join(SMS_PROVIDERS)}.",
                id="recommender.E101",
            )
        ]
    if name != "notify":
        return []
    errors = []
    try:
        notify_key_parts(settings.B12_NOTIFY_API_KEY)
    except DeliveryError:
        errors.append(Error("B12_NOTIFY_API_KEY is not a GOV.UK Notify API key.", id="recommender.E102"))
    if not settings.B12_NOTIFY_TEMPLATE_ID:
        errors.append(Error("B12_NOTIFY_TEMPLATE_ID is needed to send text messages.", id="recommender.E103"))
    return errors
