"""The demo users: created by make run, refused when DEBUG is off, harmless to run twice."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from recommender.management.commands.demo_users import DEMO_PASSWORD


@pytest.mark.django_db
def test_demo_users_have_their_roles_and_running_twice_is_harmless(settings, rf):
    settings.DEBUG = True
    call_command("demo_users", stdout=StringIO())
    call_command("demo_users", stdout=StringIO())
    users = {u.username: u for u in get_user_model().objects.all()}
    assert set(users) == {"clinician", "nurse", "admin"}
    for name, user in users.items():
        assert list(user.groups.values_list("name", flat=True)) == [name]
    assert users["admin"].is_staff and users["admin"].is_superuser
    assert not users["nurse"].is_staff
    assert authenticate(rf.post("/login/"), username="nurse", password=DEMO_PASSWORD) == users["nurse"]


@pytest.mark.django_db
def test_demo_users_refuse_when_debug_is_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_users")
    assert not get_user_model().objects.exists()
