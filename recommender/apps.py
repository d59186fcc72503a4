from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"
    verbose_name = "B12 recommender"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_migrate

        from recommender import signals  # noqa: F401  registers the signal receivers
        from recommender.access.receivers import on_login
        from recommender.ops import checks as ops_checks  # noqa: F401  registers the operations checks
        from recommender.reminders import checks as reminder_checks  # noqa: F401  the SMS provider's settings
        from recommender.roles import sync_roles
        from recommender.web import checks  # noqa: F401  registers the system checks

        # After auth has created this app's permissions (it connected first), keep the roles' permissions exact.
        post_migrate.connect(sync_roles, sender=self, dispatch_uid="recommender.sync_roles")
        # Sign-in: the second-factor state and the absolute lifetime's start (recommender/access/).
        user_logged_in.connect(on_login, dispatch_uid="recommender.access.on_login")
        # CDS Hooks: CORS for the registered EHR clients' origins on /cds-services only.
        from corsheaders.signals import check_request_enabled

        from recommender.interop.cds.receivers import cors_allow_registered_origin

        check_request_enabled.connect(cors_allow_registered_origin, dispatch_uid="recommender.cds.cors")
