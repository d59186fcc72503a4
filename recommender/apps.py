from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"
    verbose_name = "B12 recommender"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from recommender import signals  # noqa: F401  registers the signal receivers
        from recommender.roles import sync_roles
        from recommender.web import checks  # noqa: F401  registers the system checks

        # After auth has created this app's permissions (it connected first), keep the roles' permissions exact.
        post_migrate.connect(sync_roles, sender=self, dispatch_uid="recommender.sync_roles")
