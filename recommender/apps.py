from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"
    verbose_name = "B12 recommender"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import checks, signals  # noqa: F401  (registers the system checks and signal receivers)
        from .roles import sync_roles

        # After auth has created this app's permissions (it connected first), keep the roles' permissions exact.
        post_migrate.connect(sync_roles, sender=self, dispatch_uid="recommender.sync_roles")
