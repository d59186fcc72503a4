"""Authentication events in the application log: who, what, when, from where. Never a password."""

import logging

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

log = logging.getLogger("recommender.auth")


def _ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "-") if request is not None else "-"


@receiver(user_logged_in)
def logged_in(sender, request, user, **kwargs):
    log.info("login succeeded user=%s ip=%s", user.get_username(), _ip(request))


@receiver(user_logged_out)
def logged_out(sender, request, user, **kwargs):
    log.info("logout user=%s ip=%s", user.get_username() if user else "-", _ip(request))


@receiver(user_login_failed)
def login_failed(sender, credentials, request=None, **kwargs):
    # credentials is already cleansed by Django; only the username is logged.
    log.warning("login failed user=%s ip=%s", credentials.get("username", "-"), _ip(request))
