"""The nodes' shared cache (REDIS_URL; here Django's memory cache stands in for it): permissions and the default lab
profile are read from it, and a change is seen by the very next request, whichever node made it."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.urls import reverse

from recommender import shared_cache
from recommender.clinic import selectors as clinic_selectors
from recommender.clinic import services as clinic_services
from recommender.models import LabProfile
from recommender.roles import CLINICIAN, NURSE
from tests.conftest import make_user


def test_permissions_come_with_the_session_and_a_new_role_is_seen_at_once(
    shared, client, django_user_model, django_assert_num_queries
):
    user = make_user(django_user_model, "sam", NURSE)
    client.force_login(user)
    assert client.get(reverse("worklist")).status_code == 200  # reads and stores the permissions
    assert client.get(reverse("patient-create")).status_code == 403
    with django_assert_num_queries(1):  # the session with its user and their permissions: no query of their own
        assert client.get(reverse("patient-create")).status_code == 403
    user.groups.add(Group.objects.get(name=CLINICIAN))
    assert client.get(reverse("patient-create")).status_code == 200, "the change retired the cached permissions"
    user.groups.remove(Group.objects.get(name=CLINICIAN))
    assert client.get(reverse("patient-create")).status_code == 403


def test_the_default_lab_profile_comes_from_the_shared_cache_and_a_change_is_seen_at_once(
    shared, admin_user, django_assert_num_queries
):
    first = LabProfile.objects.create(name="Lab A", total_b12_deficient_below=200, is_default=True)
    assert clinic_selectors.lab_profile_default() == first
    with django_assert_num_queries(0):
        assert clinic_selectors.lab_profile_default() == first
    second = LabProfile.objects.create(name="Lab B", total_b12_deficient_below=160)
    clinic_services.lab_profile_make_default(profile=second, by=admin_user)
    assert clinic_selectors.lab_profile_default() == second
    second.total_b12_deficient_below = 170
    second.save()
    assert clinic_selectors.lab_profile_default().total_b12_deficient_below == 170


def test_without_a_shared_cache_every_read_goes_to_the_database(db, django_assert_num_queries):
    LabProfile.objects.create(name="Lab A", total_b12_deficient_below=200, is_default=True)
    for _ in range(2):
        with django_assert_num_queries(1):
            clinic_selectors.lab_profile_default()


class _Unreachable:
    """A cache whose server has gone: every call fails."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("cache server unreachable")

        return fail


def test_an_unreachable_cache_is_skipped_not_an_error(shared, monkeypatch, db):
    LabProfile.objects.create(name="Lab A", total_b12_deficient_below=200, is_default=True)
    monkeypatch.setattr(shared_cache, "cache", _Unreachable())
    assert clinic_selectors.lab_profile_default().name == "Lab A"
    shared_cache.changed(shared_cache.LAB_PROFILES)  # logged, not raised


def test_the_caseload_comes_from_the_shared_cache_and_a_dose_or_a_new_plan_is_counted_at_once(
    shared, clinician, nurse, settings, django_assert_num_queries
):
    from datetime import timedelta

    from django.utils import timezone

    from recommender.home import selectors as home_selectors
    from tests import factories

    settings.B12_CLINIC_DAYS = list(range(7))
    today = timezone.localdate()
    plan = factories.make_plan(clinician, start=today - timedelta(days=3))
    assert home_selectors.caseload(today=today)["overdue"] == 1
    with django_assert_num_queries(0):
        assert home_selectors.caseload(today=today)["overdue"] == 1
    factories.give(plan, nurse, on=today)  # the overdue dose given today: the next one is not overdue
    assert home_selectors.caseload(today=today)["overdue"] == 0
    factories.make_plan(clinician, start=today, neuro=True)
    assert home_selectors.caseload(today=today)["loading_neuro"] == 1
    assert home_selectors.caseload(today=today + timedelta(days=30))["overdue"] >= 1, "another day, another count"


def test_the_home_page_reads_the_users_roles_from_the_shared_cache_and_sees_a_new_role_at_once(
    shared, client, django_user_model
):
    user = make_user(django_user_model, "sam", NURSE)
    client.force_login(user)
    assert "Waiting for a decision from you" not in client.get(reverse("home")).content.decode()
    user.groups.add(Group.objects.get(name=CLINICIAN))
    assert "Waiting for a decision from you" in client.get(reverse("home")).content.decode()
    user.groups.remove(Group.objects.get(name=CLINICIAN))
    assert "Waiting for a decision from you" not in client.get(reverse("home")).content.decode()


def _counting_reads(cache, monkeypatch) -> list[list[str]]:
    """Every get_many the shared cache answers, with its keys."""
    reads: list[list[str]] = []
    original = cache.get_many

    def get_many(keys, *args, **kwargs):
        reads.append(list(keys))
        return original(keys, *args, **kwargs)

    monkeypatch.setattr(cache, "get_many", get_many)
    return reads


def test_prefetched_reads_cost_one_round_trip_and_a_change_inside_is_seen(shared, admin_user, monkeypatch):
    first = LabProfile.objects.create(name="Lab A", total_b12_deficient_below=200, is_default=True)
    second = LabProfile.objects.create(name="Lab B", total_b12_deficient_below=160)
    assert clinic_selectors.lab_profile_default() == first  # stored in the shared cache
    clients = shared_cache.process_through(shared_cache.CDS_CLIENTS, "test", lambda: "keys")
    reads = _counting_reads(shared, monkeypatch)
    with shared_cache.prefetched(shared_cache.CDS_CLIENTS, clinic_selectors.LAB_PROFILE_DEFAULT):
        assert clinic_selectors.lab_profile_default() == first
        assert shared_cache.process_through(shared_cache.CDS_CLIENTS, "test", lambda: "recomputed") == clients
        assert len(reads) == 1, "one read of the shared cache for both"
        clinic_services.lab_profile_make_default(profile=second, by=admin_user)
        assert clinic_selectors.lab_profile_default() == second, "the change made inside the block is seen in it"
    assert clinic_selectors.lab_profile_default() == second


def test_pages_read_the_closures_from_the_shared_cache_and_a_new_closure_is_seen_at_once(
    shared, clinician_client, clinician, admin_user
):
    """The plan page, its month view and its .ics read the clinic's closures once for every node; a closure saved
    or removed is on every page at the next request, and the .ics SEQUENCE rises with it."""
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from recommender.injections import services as injections_services
    from recommender.models import ClinicClosure
    from tests import factories
    from tests.test_calendar import download, events_of

    today = timezone.localdate()
    plan = factories.make_plan(clinician, start=today - timedelta(days=20))
    pages = [reverse("plan-detail", args=[plan.pk]), reverse("plan-month", args=[plan.pk])]

    def closure_reads(path: str) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert clinician_client.get(path).status_code == 200
        return [q["sql"] for q in queries.captured_queries if "clinicclosure" in q["sql"]]

    def sequence() -> int:
        return int(next(iter(events_of(download(clinician_client, plan)).values()))["SEQUENCE"])

    for path in [*pages, reverse("plan-ics", args=[plan.pk])]:
        closure_reads(path)  # the first read fills the shared cache
        assert closure_reads(path) == [], path
    before = sequence()

    closure = injections_services.clinic_closure_save(
        closure=ClinicClosure(date=today, reason="Staff training"), by=admin_user
    )
    assert "Closed: Staff training" in clinician_client.get(pages[1]).content.decode()
    assert sequence() > before

    injections_services.clinic_closure_remove(closure=closure, by=admin_user)
    assert "Closed: Staff training" not in clinician_client.get(pages[1]).content.decode()


def _section(body: str, title_id: str) -> str:
    return body.split(f'id="{title_id}"')[1].split("</section>")[0]


def test_the_home_pages_clinic_lists_come_rendered_from_the_shared_cache_and_any_change_shows_at_once(
    shared, clinician, nurse, client, settings, django_user_model
):
    """Every clinician sees the same clinic-wide lists: the second view reads none of them again, and a new
    assessment, a renamed patient, a dose, a new plan or a closure is on the very next page, for every user."""
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from recommender.models import ClinicClosure
    from tests import factories

    settings.B12_CLINIC_DAYS = list(range(7))
    today = timezone.localdate()
    waiting = factories.make_patient(by=clinician, family_name="Awaitmma")
    factories.make_assessment(waiting, clinician, payload={"b12": {"value": 250, "unit": "pg/mL"}})
    other = make_user(django_user_model, "another-clinician", CLINICIAN)
    client.force_login(clinician)

    def home() -> tuple[str, int]:
        with CaptureQueriesContext(connection) as queries:
            body = client.get(reverse("home")).content.decode()
        return body, len(queries)

    first, read = home()
    again, read_again = home()
    assert _section(first, "home-mma-result-awaited") == _section(again, "home-mma-result-awaited")
    assert "AWAITMMA" in _section(again, "home-mma-result-awaited")
    assert read_again <= read - 5, "the four clinic lists (and the count of a long one) are not read again"
    client.force_login(other)
    assert "AWAITMMA" in _section(home()[0], "home-mma-result-awaited"), "the same lists for another clinician"

    clinic_services.patient_update(
        patient=waiting,
        hospital_number=waiting.hospital_number,
        family_name="Awaitmmb",
        given_name=waiting.given_name,
        date_of_birth=waiting.date_of_birth,
        reason="Spelling.",
        by=clinician,
    )
    assert "AWAITMMB" in _section(home()[0], "home-mma-result-awaited"), "a renamed patient"

    neuro = factories.make_plan(clinician, start=today - timedelta(days=20), neuro=True, family_name="Neuroreview")
    assert "NEUROREVIEW" in _section(home()[0], "home-neurological-loading-review-due"), "a new plan"
    ClinicClosure.objects.create(date=today + timedelta(days=1), reason="Training")
    assert home()[1] >= read_again + 4, "a closure moves the reviews: the lists are read again"

    nurse_user = make_user(django_user_model, "a-nurse", NURSE)
    client.force_login(nurse_user)
    late = factories.make_plan(clinician, start=today - timedelta(days=3), family_name="Latecomer")
    assert "LATECOMER" in _section(home()[0], "home-overdue")
    factories.give(late, nurse, on=today)
    assert "LATECOMER" not in _section(home()[0], "home-overdue"), "a dose given: no longer overdue"
    assert "Waiting for a decision from you" not in home()[0], "each role its own lists"
    client.force_login(clinician)
    assert reverse("plan-detail", args=[neuro.pk]) in _section(home()[0], "home-neurological-loading-review-due")


def test_a_restore_retires_everything_cached_from_the_database_it_replaced(shared, db):
    names = [
        shared_cache.PERMISSIONS,
        shared_cache.LAB_PROFILES,
        shared_cache.CASELOAD,
        shared_cache.CLINIC_LISTS,
        shared_cache.CLINIC_SESSIONS,
        shared_cache.ACCESS_TOKENS,
    ]
    for name in names:
        shared_cache.read_through(name, "k", lambda: "before")
        assert shared_cache.read_through(name, "k", lambda: "recomputed") == "before"
    shared_cache.changed_everything()
    assert [shared_cache.read_through(name, "k", lambda: "after") for name in names] == ["after"] * len(names)


def test_a_change_made_while_the_first_value_is_read_is_not_hidden_by_it(shared, db):
    """Another node changes the data while this one reads it for a generation that did not exist yet: the value
    read before the change must not be served after it."""

    def read_then_changed_elsewhere():
        shared_cache.changed(shared_cache.CASELOAD)  # the other node's change, committed during this read
        return "read before the change"

    assert shared_cache.read_through(shared_cache.CASELOAD, "k", read_then_changed_elsewhere) == (
        "read before the change"
    )
    assert shared_cache.read_through(shared_cache.CASELOAD, "k", lambda: "after") == "after"


def test_an_entry_kept_by_another_release_is_not_read_but_its_changes_still_retire_this_ones(shared, db, monkeypatch):
    """A value pickled by one release may not read right in another (a row's fields by position): each release
    keeps its own entries; the generations are shared, so a change made by either retires both."""
    monkeypatch.setattr(shared_cache, "CODE_VERSION", "previous-release")
    assert shared_cache.read_through(shared_cache.CASELOAD, "k", lambda: "kept by the previous release") == (
        "kept by the previous release"
    )
    monkeypatch.setattr(shared_cache, "CODE_VERSION", "this-release")
    assert shared_cache.read_through(shared_cache.CASELOAD, "k", lambda: "this release's") == "this release's"
    assert shared_cache.read_through(shared_cache.CASELOAD, "k", lambda: "read again") == "this release's"
    shared_cache.changed(shared_cache.CASELOAD)  # made on a node still running the previous release
    assert shared_cache.read_through(shared_cache.CASELOAD, "k", lambda: "after the change") == "after the change"


def test_a_value_read_between_a_write_and_its_commit_is_retired_when_the_write_commits(
    shared, clinician, django_capture_on_commit_callbacks
):
    """Another node reads the plan while this node's transaction has written but not committed (it reads the old
    row) and keeps what it read: the second retirement, at the commit, retires it."""
    from tests import factories

    plan = factories.make_plan(clinician)
    name = shared_cache.record("plan", plan.pk)
    with django_capture_on_commit_callbacks(execute=True):
        plan.next_due_note = "Changed"
        plan.save()  # retired now...
        assert shared_cache.read_through(name, "k", lambda: "the row before the commit") == "the row before the commit"
        assert shared_cache.read_through(name, "k", lambda: "unused") == "the row before the commit"
    # ...and again once committed
    assert shared_cache.read_through(name, "k", lambda: "the committed row") == "the committed row"


def test_a_migration_retires_everything_the_nodes_keep(shared, db):
    """A data migration writes through historical models, which send no signal the receivers hear."""
    from django.core.management import call_command

    shared_cache.read_through(shared_cache.CLINIC_LISTS, "k", lambda: "before")
    call_command("migrate", verbosity=0)
    assert shared_cache.read_through(shared_cache.CLINIC_LISTS, "k", lambda: "after") == "after"


def test_a_kept_value_that_no_longer_holds_is_read_again_and_kept_in_its_place(shared, db):
    reads = []

    def read(value):
        reads.append(value)
        return value

    assert shared_cache.read_through(shared_cache.CASELOAD, "k", lambda: read(1), valid=lambda v: v >= 1) == 1
    assert shared_cache.read_through(shared_cache.CASELOAD, "k", lambda: read(2), valid=lambda v: v >= 2) == 2
    assert shared_cache.read_through(shared_cache.CASELOAD, "k", lambda: read(3), valid=lambda v: v >= 2) == 2
    assert reads == [1, 2]
