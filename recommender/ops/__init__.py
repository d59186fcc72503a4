"""Running the service: health and readiness probes, answering 503 while the database is out, backups."""
