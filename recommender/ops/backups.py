"""Backups of the clinic's database and their restore, with a SHA-256 checksum beside every backup.

SQLite: the online backup API (a consistent copy while the site runs). PostgreSQL: ``pg_dump`` in its custom
format and ``pg_restore``. The checksum sits in ``FILE.sha256`` in ``sha256sum`` format (``sha256sum -c`` checks
it too); restore refuses a file whose checksum is missing or differs, and a file of the other database's kind."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from django.db import connections

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why in plain words."""


def checksum_path(backup: Path) -> Path:
    return backup.with_name(backup.name + ".sha256")


def sha256_of(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def verify(backup: Path) -> str:
    """The backup's checksum, once it matches the one written beside it."""
    if not backup.is_file():
        raise BackupError(f"There is no backup file at {backup}.")
    sidecar = checksum_path(backup)
    if not sidecar.is_file():
        raise BackupError(f"The checksum file {sidecar.name} is missing: the backup cannot be verified.")
    expected = sidecar.read_text().split()[0] if sidecar.read_text().split() else ""
    actual = sha256_of(backup)
    if actual != expected:
        raise BackupError(f"{backup.name} does not match its checksum: the file is damaged or was changed.")
    return actual


def _vendor(using: str) -> str:
    vendor = connections[using].vendor
    if vendor not in {"sqlite", "postgresql"}:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {vendor}.")
    return vendor


def backup(*, destination: Path, using: str = "default") -> str:
    """Write a backup of the database to ``destination`` and its checksum beside it; returns the checksum.

    Written to a temporary file first, so an interrupted backup never leaves a file that looks complete."""
    destination = destination.resolve()
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    os.close(handle)
    partial = Path(partial)
    try:
        if _vendor(using) == "sqlite":
            _sqlite_backup(partial, using)
        else:
            _pg_dump(partial, using)
        digest = sha256_of(partial)
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    checksum_path(destination).write_text(f"{digest}  {destination.name}\n")
    return digest


def restore(*, source: Path, using: str = "default") -> str:
    """Replace the database's contents with the backup at ``source``, once its checksum is verified."""
    source = source.resolve()
    digest = verify(source)
    with source.open("rb") as stream:
        head = stream.read(len(SQLITE_MAGIC))
    vendor = _vendor(using)
    if vendor == "sqlite" and not head.startswith(SQLITE_MAGIC):
        raise BackupError(f"{source.name} is not an SQLite backup; this site runs on SQLite.")
    if vendor == "postgresql" and not head.startswith(PG_CUSTOM_MAGIC):
        raise BackupError(f"{source.name} is not a pg_dump (custom format) backup; this site runs on PostgreSQL.")
    connections[using].close()
    if vendor == "sqlite":
        _sqlite_restore(source, using)
    else:
        _pg_restore(source, using)
    return digest


def _sqlite_backup(target: Path, using: str) -> None:
    connection = connections[using]
    connection.ensure_connection()
    copy = sqlite3.connect(target)
    try:
        connection.connection.backup(copy)
    finally:
        copy.close()


def _sqlite_restore(source: Path, using: str) -> None:
    backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        if backup_db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"{source.name} fails SQLite's integrity check.")
        connection = connections[using]
        connection.ensure_connection()
        backup_db.backup(connection.connection)
    finally:
        backup_db.close()
    connections[using].close()


def _pg_environment(using: str) -> tuple[dict, str]:
    settings = connections[using].settings_dict
    env = dict(os.environ)
    for variable, key in {"PGHOST": "HOST", "PGPORT": "PORT", "PGUSER": "USER", "PGPASSWORD": "PASSWORD"}.items():
        if settings.get(key):
            env[variable] = str(settings[key])
    return env, settings["NAME"]


def _pg_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client).")
    return tool


def _run(command: list[str], env: dict) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603 (fixed tools)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-1000:]}")


def _pg_dump(target: Path, using: str) -> None:
    env, name = _pg_environment(using)
    _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={target}", name], env)


def _pg_restore(source: Path, using: str) -> None:
    env, name = _pg_environment(using)
    _run(
        [
            _pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={name}",
            str(source),
        ],
        env,
    )
