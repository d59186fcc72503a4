"""Patient reminders (issue 16): contact details and consent, planning each day's reminders, sending them in the
background (django.tasks on the database), retries with back-off and the staff list of those that failed."""
