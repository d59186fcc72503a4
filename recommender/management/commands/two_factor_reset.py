"""Reset a user's second factor (a lost phone): their authenticator and recovery codes are removed, their sessions
must pass set-up again (required roles) at the next sign-in."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from recommender.access.twofactor import remove


class Command(BaseCommand):
    help = "Remove USERNAME's authenticator and recovery codes (a lost phone); they set up a new one at sign-in."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        remove(user=user)
        self.stdout.write(f"Second factor removed for {username}.")
