"""The session engine (settings.SESSION_ENGINE): Django's database sessions, kept in models.SignInSession with the
signed-in user as a column.

A request then reads its session and its user in one query: the session's row comes with the user's row, and
``SessionUserMiddleware`` offers that user to Django's own ``get_user``, which still checks the backend, the account
being active and the session's password hash exactly as always (backends.ModelBackend.get_user takes the offer only
for the same user id)."""

from __future__ import annotations

import logging

from django.contrib import auth
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.exceptions import SuspiciousOperation
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from recommender.access.backends import read_with_session
from recommender.models import SignInSession


class SessionStore(DatabaseSessionStore):
    user_row = None

    @classmethod
    def get_model_class(cls):
        return SignInSession

    def _get_session_from_db(self):
        try:
            row = SignInSession.objects.select_related("user").get(
                session_key=self.session_key, expire_date__gt=timezone.now()
            )
        except (SignInSession.DoesNotExist, SuspiciousOperation) as error:
            if isinstance(error, SuspiciousOperation):
                logging.getLogger(f"django.security.{error.__class__.__name__}").warning(str(error))
            self._session_key = None
            return None
        self.user_row = row.user
        return row

    def create_model_instance(self, data):
        row = super().create_model_instance(data)
        user_id = data.get(SESSION_KEY)
        row.user_id = int(user_id) if isinstance(user_id, str) and user_id.isdigit() else None
        return row


def user_for_request(request):
    if not hasattr(request, "_cached_user"):
        session = request.session
        # Reading a key loads the session (and its user's row) if nothing has yet.
        session.get(SESSION_KEY)
        token = read_with_session.set(getattr(session, "user_row", None))
        try:
            request._cached_user = auth.get_user(request)
        finally:
            read_with_session.reset(token)
    return request._cached_user


class SessionUserMiddleware(AuthenticationMiddleware):
    """Django's AuthenticationMiddleware, with the user read along with the session."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: user_for_request(request))
