from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"
    verbose_name = "B12 recommender"

    def ready(self) -> None:
        from . import checks, signals  # noqa: F401  (registers the system checks and signal receivers)
