"""The session engine (settings.SESSION_ENGINE): Django's database sessions, kept in models.SignInSession with the
signed-in user as a column.

A request then reads its session, its user and their permissions in one query: the session's row comes with the
user's row and the user's permissions (their own and their groups', always current), and
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
from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from recommender.access.backends import read_with_session
from recommender.models import SignInSession

# The user's permissions ("app.codename", space-separated), their own and their groups', read in the same query:
# always current (a role taken away holds at the next request) and no round trip of their own. Both PostgreSQL and
# SQLite concatenate with ||; the aggregate's name differs.
PERMISSIONS_SQL = """
    SELECT {aggregate}(ct.app_label || '.' || p.codename, ' ')
    FROM auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id
    WHERE p.id IN (
        SELECT up.permission_id FROM auth_user_user_permissions up WHERE up.user_id = {session}.user_id
        UNION
        SELECT gp.permission_id FROM auth_group_permissions gp
        JOIN auth_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = {session}.user_id
    )
"""


def _permissions_sql() -> RawSQL:
    aggregate = "string_agg" if connection.vendor == "postgresql" else "group_concat"
    session = connection.ops.quote_name(SignInSession._meta.db_table)
    # No input reaches this SQL: the names are constants and the table name is quoted by the backend.
    return RawSQL(PERMISSIONS_SQL.format(aggregate=aggregate, session=session), ())  # noqa: S611


class SessionStore(DatabaseSessionStore):
    user_row = None

    @classmethod
    def get_model_class(cls):
        return SignInSession

    def _get_session_from_db(self):
        try:
            row = (
                SignInSession.objects.select_related("user")
                .annotate(user_permissions=_permissions_sql())
                .get(session_key=self.session_key, expire_date__gt=timezone.now())
            )
        except (SignInSession.DoesNotExist, SuspiciousOperation) as error:
            if isinstance(error, SuspiciousOperation):
                logging.getLogger(f"django.security.{error.__class__.__name__}").warning(str(error))
            self._session_key = None
            return None
        self.user_row = row.user
        if row.user is not None and not row.user.is_superuser:
            # Read by backends.ModelBackend.get_all_permissions (a superuser has them all: read there).
            row.user.session_permissions = frozenset((row.user_permissions or "").split())
        return row

    def create_model_instance(self, data):
        row = super().create_model_instance(data)
        user_id = data.get(SESSION_KEY)
        row.user_id = int(user_id) if isinstance(user_id, str) and user_id.isascii() and user_id.isdigit() else None
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
