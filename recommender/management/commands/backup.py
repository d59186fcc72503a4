"""Back up the clinic's database to FILE, with its SHA-256 checksum in FILE.sha256."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from recommender.ops.backups import BackupError, backup, checksum_path


class Command(BaseCommand):
    help = (
        "Back up the database to FILE (SQLite: online backup; PostgreSQL: pg_dump custom format) "
        "and write its SHA-256 checksum to FILE.sha256."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--database", default="default", help="the database alias (default: default)")

    def handle(self, *args, file: Path, database: str, **options):
        try:
            digest = backup(destination=file, using=database)
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Backed up to {file} (sha256 {digest}, checksum in {checksum_path(file).name}).")
