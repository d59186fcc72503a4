"""Several background workers at once, on PostgreSQL: the same due tasks run by two db_worker loops (and one task
enqueued twice, as a lost-task sweep may) send each reminder exactly once."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connections
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from recommender.models import ReminderAttempt, ReminderSend
from recommender.reminders import providers, services, tasks
from tests.factories import at_once, make_plan, only_postgresql

MONDAY = date(2026, 12, 7)
PATIENTS = 12


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    settings.B12_SMS_PROVIDER = "fake"
    return providers.fake_sms_provider()


def due_patients(by, count: int) -> None:
    for _ in range(count):
        plan = make_plan(by, start=MONDAY + timedelta(days=3))
        services.contact_preference_save(
            patient=plan.patient, email="", mobile="07700 900123", consent="sms", window="any", by=by
        )


def worker(name: str) -> Worker:
    return Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=name,
        excluded_queue_names=[],
    )


def run_together(*workers: Worker) -> None:
    barrier = threading.Barrier(len(workers))
    errors = []

    def run(one: Worker):
        try:
            barrier.wait(timeout=10)
            one.run()
        except Exception as error:  # kept for the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(one,)) for one in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and not any(thread.is_alive() for thread in threads)


@only_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # as every transactional test: see conftest
def test_two_workers_running_the_same_due_tasks_send_each_reminder_once(clinician, database_queue):
    with time_machine.travel(datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("Europe/London")), tick=False):
        due_patients(clinician, PATIENTS)
        assert tasks.plan_reminders(on=MONDAY) == PATIENTS
        assert tasks.plan_reminders(on=MONDAY) == 0  # planned twice: nothing more
        ids = [str(pk) for pk in ReminderSend.objects.values_list("pk", flat=True)]
        # The same batch enqueued twice more, as a sweep after a lost task might: three tasks, same reminders.
        tasks.send_reminders_batch.enqueue(ids)
        tasks.send_reminders_batch.enqueue(list(reversed(ids)))
        assert DBTaskResult.objects.ready().count() == 3

        run_together(worker("worker-a"), worker("worker-b"))

    assert DBTaskResult.objects.successful().count() == 3
    references = [message["reference"] for message in database_queue.sent]
    assert sorted(references) == sorted(ids)  # each once
    assert set(ReminderSend.objects.values_list("status", flat=True)) == {"sent"}
    assert ReminderAttempt.objects.filter(status="sent").count() == PATIENTS
    assert ReminderAttempt.objects.filter(status="sending").count() == PATIENTS


@only_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # as every transactional test: see conftest
def test_two_workers_claiming_one_reminder_at_the_same_moment_send_it_once(clinician, database_queue):
    with time_machine.travel(datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("Europe/London")), tick=False):
        due_patients(clinician, 1)
        list(services.reminders_plan(on=MONDAY))  # planned, not enqueued
        send_id = ReminderSend.objects.get().pk
        outcomes = at_once(
            lambda: services.reminder_send(send_id=send_id, worker="a"),
            lambda: services.reminder_send(send_id=send_id, worker="b"),
        )
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["NoneType", "ReminderSend"]
    assert len(database_queue.sent) == 1
