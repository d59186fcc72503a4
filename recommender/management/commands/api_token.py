"""Issue an API token for a user: the secret is printed once and never stored."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from recommender.access.services import access_token_issue
from recommender.models import AccessToken


class Command(BaseCommand):
    help = "Issue a JSON API token for USERNAME (sent as 'Authorization: Bearer <token>')."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for, e.g. the calling system")
        parser.add_argument("--days", type=int, default=None, help="expire after this many days (default: never)")

    def handle(self, *args, username, name, days, **options):
        if days is not None and days < 1:
            raise CommandError("--days must be 1 or more.")
        try:
            user = get_user_model().objects.get(username=username, is_active=True)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No active user named {username!r}.") from None
        expires_at = timezone.now() + timedelta(days=days) if days else None
        _, raw = access_token_issue(user=user, purpose=AccessToken.Purpose.API, name=name, expires_at=expires_at)
        self.stdout.write(raw)
