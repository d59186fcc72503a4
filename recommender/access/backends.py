import contextvars

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q

from recommender import shared_cache

# The user read with the session's row (access.sessions), offered while Django's get_user runs for one request.
read_with_session: contextvars.ContextVar = contextvars.ContextVar("read_with_session", default=None)


class ModelBackend(ModelBackend):
    """Django's model backend, reading a user's own and group permissions in one query instead of two (every
    page and htmx fragment checks a permission). A browser's user has them already, read with its session in the
    same query (recommender/access/sessions.py); an API or calendar token's user reads them from the nodes' shared
    cache when there is one."""

    def get_user(self, user_id):
        # The user read with the session's row (access.sessions), when it is the one asked for: no second query.
        user = read_with_session.get()
        if user is not None and str(user.pk) == str(user_id):
            return user if self.user_can_authenticate(user) else None
        return super().get_user(user_id)

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache") and hasattr(user_obj, "session_permissions"):
            # Read with the session and its user (access.sessions): current, and no read of their own.
            user_obj._perm_cache = user_obj.session_permissions
        if not hasattr(user_obj, "_perm_cache"):
            # Superuser status is on the user's own row (read with it): part of the key, so no change is needed.
            key = f"{user_obj.pk}:{int(user_obj.is_superuser)}"
            user_obj._perm_cache = shared_cache.read_through(
                shared_cache.PERMISSIONS, key, lambda: self._permissions(user_obj)
            )
        return user_obj._perm_cache

    @staticmethod
    def _permissions(user_obj) -> frozenset[str]:
        if user_obj.is_superuser:
            perms = Permission.objects.all()
        else:
            perms = Permission.objects.filter(Q(user=user_obj) | Q(group__user=user_obj))
        return frozenset(
            f"{app}.{codename}" for app, codename in perms.values_list("content_type__app_label", "codename")
        )
