"""The background work of reminders, on Django's tasks framework (``django.tasks``; in production the
django-tasks-db backend: the queue is a table of the project's database and ``manage.py db_worker`` runs it).

Any number of workers may run the same task at once, or one task twice: each reminder is claimed under a row lock
before it is sent (services.reminder_send), and the database holds one row per appointment and kind.

For a script or a simulation: ``plan_reminders(on=day)`` plans and enqueues a day's reminders;
``run_due_reminders()`` sends, in this process, every reminder whose time has come."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.tasks import TaskContext, default_task_backend, task
from django.utils import timezone

from . import selectors, services

# A reminder ready this long without being sent had its task lost (a worker stopped, a crash between planning and
# enqueueing): the daily run enqueues it again. Longer than a worker takes to reach a fresh task.
SWEEP_GRACE = timedelta(minutes=10)


@task(takes_context=True)
def send_reminders_batch(context: TaskContext, send_ids: list[str]) -> dict[str, int]:
    """Send the batch's reminders that are ready and that no other worker holds; schedule the retries."""
    worker = (context.task_result.worker_ids or [""])[-1]
    outcome = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    for send_id in send_ids:
        send = services.reminder_send(send_id=send_id, worker=worker)
        if send is None:
            outcome["skipped"] += 1
            continue
        outcome[send.status] = outcome.get(send.status, 0) + 1
        if send.status == send.Status.RETRY:
            _enqueue([send_id], run_after=send.next_attempt_at)
    return outcome


def _enqueue(ids: list, *, run_after: datetime) -> None:
    """One task for the batch, deferred to ``run_after`` where the backend can (a backend that cannot, like the
    tests' immediate one, runs it now: a reminder not yet due is skipped, and the daily sweep picks it up)."""
    ids = [str(pk) for pk in ids]
    if run_after > timezone.now() and default_task_backend.supports_defer:
        send_reminders_batch.using(run_after=run_after).enqueue(ids)
    else:
        send_reminders_batch.enqueue(ids)


def plan_reminders(*, on: date, now: datetime | None = None) -> int:
    """Plan the reminders for ``on`` and enqueue them: the number planned (0 when run again for the same day)."""
    planned = 0
    for batch in services.reminders_plan(on=on, now=now):
        _enqueue(batch.ids, run_after=batch.run_after)
        planned += len(batch.ids)
    return planned


def enqueue_lost(*, now: datetime | None = None) -> int:
    """Enqueue again the reminders that should have gone by now (their task lost): the number enqueued."""
    before = (now or timezone.now()) - SWEEP_GRACE
    ids = list(selectors.sends_ready(now=before).values_list("pk", flat=True))
    for start in range(0, len(ids), services.BATCH_SIZE):
        send_reminders_batch.enqueue([str(pk) for pk in ids[start : start + services.BATCH_SIZE]])
    return len(ids)


def run_due_reminders(*, now: datetime | None = None) -> int:
    """Send here and now every reminder whose time has come (no worker needed): the number sent."""
    now = now or timezone.now()
    sent = 0
    for send_id in list(selectors.sends_ready(now=now).values_list("pk", flat=True)):
        send = services.reminder_send(send_id=send_id, worker="run_due_reminders", now=now)
        sent += send is not None and send.status == send.Status.SENT
    return sent
