"""Plan a day's patient reminders and hand them to the background workers. Run daily (cron: README, Reminders)."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from recommender.reminders import tasks


class Command(BaseCommand):
    help = (
        "Plan the reminders for a day (default: today) and enqueue them for the workers (manage.py db_worker). "
        "Running it again for the same day plans nothing more. Reminders whose task was lost are enqueued again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--on", help="the day to plan, YYYY-MM-DD (default: today, in the clinic's time zone)")

    def handle(self, *args, on=None, **options):
        if on:
            try:
                day = date.fromisoformat(on)
            except ValueError:
                raise CommandError(f"--on: {on!r} is not a date like 2026-12-04.") from None
        else:
            day = timezone.localdate()
        planned = tasks.plan_reminders(on=day)
        lost = tasks.enqueue_lost()
        self.stdout.write(f"{day:%Y-%m-%d}: {planned} reminders planned and enqueued; {lost} waiting enqueued again.")
