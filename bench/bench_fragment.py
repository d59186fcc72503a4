"""The htmx results fragment rendered in-process with the test client (DEBUG off, cached template loader):
median and total time of 200 renders of the assessment preview, to compare the panel's rendering before and after."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FORM = {
    "sample_date": "2026-11-20",
    "b12_value": "150",
    "b12_unit": "pg/mL",
    "active_b12_unit": "pmol/L",
    "homocysteine_unit": "umol/L",
    "neurological_involvement": "on",
    "severe": "on",
    "folic_acid": "on",
}


def main(renders: int = 200) -> None:
    tmp = tempfile.mkdtemp()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-" + "x" * 50,
        DJANGO_ALLOWED_HOSTS="testserver",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite3",
    )
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from recommender.models import Patient
    from recommender.roles import CLINICIAN

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(username="bench", password="bench-password-1")
    user.groups.add(Group.objects.get(name=CLINICIAN))
    patient = Patient.objects.create(
        hospital_number="BENCH1", family_name="Bench", given_name="Pat", date_of_birth="1950-01-01", created_by=user
    )
    client = Client(HTTP_HX_REQUEST="true")
    client.force_login(user)
    url = reverse("assessment-preview", args=[patient.pk])
    for _ in range(20):  # warm-up: template loading, caches
        assert client.post(url, FORM).status_code == 200
    samples = []
    for _ in range(renders):
        start = time.perf_counter_ns()
        response = client.post(url, FORM)
        samples.append((time.perf_counter_ns() - start) / 1e6)
        assert response.status_code == 200
    print(f"{renders} renders: total {sum(samples):.0f} ms, median {statistics.median(samples):.2f} ms per fragment")


if __name__ == "__main__":
    main()
