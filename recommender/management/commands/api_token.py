"""Issue an API token for a user: the secret is printed once and never stored."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from recommender.access.services import access_token_issue
from recommender.models import AccessToken


class Command(BaseCommand):
    help = "Issue a JSON API token for USERNAME (sent as 'Authorization: Bearer <token>')."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for, e.g. the calling system")

    def handle(self, *args, username, name, **options):
        try:
            user = get_user_model().objects.get(username=username, is_active=True)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No active user named {username!r}.") from None
        _, raw = access_token_issue(user=user, purpose=AccessToken.Purpose.API, name=name)
        self.stdout.write(raw)
