"""Records for tests that run real app servers: run inside ``manage.py shell`` against the servers' database.

Prints one JSON line: signed-in session keys per role and the plans whose first loading dose is due."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from recommender.access.sessions import SessionStore
from recommender.roles import ADMIN, CLINICIAN, NURSE
from tests.conftest import PASSWORD
from tests.factories import make_plan, pass_second_step


def _user(username: str, role: str):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=role == ADMIN)
    user.groups.add(Group.objects.get(name=role))
    return user


def signed_in_session(user) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "recommender.access.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    pass_second_step(session, user)  # staff and the admin group sign in with a code too
    session.create()
    return session.session_key


def seed(plans: int = 1) -> None:
    clinician, nurse, admin = _user("dr_jones", CLINICIAN), _user("nurse_patel", NURSE), _user("admin_lee", ADMIN)
    start = timezone.localdate() - timedelta(days=5)
    due = [make_plan(clinician, start=start) for _ in range(plans)]
    sys.stdout.write(
        json.dumps(
            {
                "sessions": {
                    "clinician": signed_in_session(clinician),
                    "nurse": signed_in_session(nurse),
                    "admin": signed_in_session(admin),
                },
                "plans": [
                    {"id": str(p.pk), "phase": p.next_phase, "number": p.next_number, "sequence": p.calendar_sequence}
                    for p in due
                ],
            }
        )
        + "\n"
    )
