"""Create the demo users clinician, nurse and admin (local use only; refuses when DEBUG is off)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from recommender.roles import ADMIN, CLINICIAN, NURSE

DEMO_PASSWORD = "b12-demo-password"  # noqa: S105 (published demo password; DEBUG only)


class Command(BaseCommand):
    help = "Create or refresh the demo users clinician, nurse and admin. Refuses to run when DEBUG is off."

    @transaction.atomic
    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_users creates accounts with a published password: it only runs with DEBUG on.")
        User = get_user_model()
        for username in (CLINICIAN, NURSE, ADMIN):
            group, _ = Group.objects.get_or_create(name=username)
            user, created = User.objects.get_or_create(username=username)
            user.first_name = username.capitalize()
            user.last_name = "(demo)"
            user.is_staff = username == ADMIN
            user.is_superuser = username == ADMIN
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.add(group)
            self.stdout.write(f"{'created' if created else 'refreshed'} demo user {username}")
        self.stdout.write(f"Demo password for all three: {DEMO_PASSWORD}")
