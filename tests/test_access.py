"""Access (recommender/access/): issuing and revoking calendar-feed tokens, who a token stands for, and the form
that names the token to revoke. The pages using them are in test_calendar.py; who may open them in test_roles.py."""

from __future__ import annotations

from uuid import uuid4

import pytest

from recommender.access import selectors, services
from recommender.access.forms import TokenRevokeForm
from recommender.models import AccessToken

pytestmark = pytest.mark.django_db

CALENDAR = AccessToken.Purpose.CALENDAR


def test_a_token_stands_for_its_user_until_revoked(nurse):
    token, raw = services.access_token_issue(user=nurse, purpose=CALENDAR, name="worklist")
    assert token.digest != raw and raw not in token.digest  # only the digest is kept
    assert selectors.access_token_user(raw=raw, purpose=CALENDAR) == nurse
    services.access_token_revoke(token=token)
    assert selectors.access_token_user(raw=raw, purpose=CALENDAR) is None


@pytest.mark.parametrize("raw", ["", "b12_not-a-real-token"])
def test_no_user_for_an_empty_or_unknown_token(nurse, raw):
    services.access_token_issue(user=nurse, purpose=CALENDAR)
    assert selectors.access_token_user(raw=raw, purpose=CALENDAR) is None


def test_an_inactive_users_token_stands_for_no_one(nurse):
    _, raw = services.access_token_issue(user=nurse, purpose=CALENDAR)
    nurse.is_active = False
    nurse.save()
    assert selectors.access_token_user(raw=raw, purpose=CALENDAR) is None


def test_revoking_twice_keeps_the_first_time(nurse):
    token, _ = services.access_token_issue(user=nurse, purpose=CALENDAR)
    first = services.access_token_revoke(token=token).revoked_at
    assert services.access_token_revoke(token=token).revoked_at == first


def test_calendar_tokens_are_the_users_own(nurse, clinician):
    mine, _ = services.access_token_issue(user=nurse, purpose=CALENDAR)
    services.access_token_issue(user=clinician, purpose=CALENDAR)
    assert list(selectors.calendar_tokens(user=nurse)) == [mine]


def test_the_revoke_form_takes_an_id_and_nothing_else():
    token_id = uuid4()
    form = TokenRevokeForm({"token": str(token_id)})
    assert form.is_valid() and form.cleaned_data["token"] == token_id
    for bad in ("", "not-an-id", "1; DROP TABLE", "\x00"):
        form = TokenRevokeForm({"token": bad})
        assert not form.is_valid() and "token" in form.errors
