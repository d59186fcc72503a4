"""Restore the clinic's database from a backup made by ``manage.py backup``, once its checksum is verified."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from recommender import shared_cache
from recommender.ops.backups import BackupError, restore, verify


class Command(BaseCommand):
    help = (
        "Replace everything in the database with the backup FILE, after verifying FILE.sha256. "
        "Stop the app servers first."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--database", default="default", help="the database alias (default: default)")
        parser.add_argument(
            "--noinput", "--no-input", action="store_false", dest="interactive", help="do not ask for confirmation"
        )

    def handle(self, *args, file: Path, database: str, interactive: bool, **options):
        try:
            verify(file)
            if interactive:
                answer = input(
                    f"This replaces every record in the '{database}' database with the backup {file}.\n"
                    "Type 'yes' to continue, or anything else to stop: "
                )
                if answer != "yes":
                    raise CommandError("Restore cancelled; nothing was changed.")
            try:
                digest = restore(source=file, using=database)
            finally:  # even a restore that failed part way may have changed the database
                shared_cache.changed_everything()
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Restored from {file} (sha256 {digest} verified).")
        if not shared_cache.is_shared():
            self.stdout.write(
                "REDIS_URL is not set here: if the app servers share a cache, what they keep from before the restore "
                f"expires within {shared_cache.TIMEOUT_SECONDS // 60} minutes (run this with their REDIS_URL to "
                "retire it at once)."
            )
