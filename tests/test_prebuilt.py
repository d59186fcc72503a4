"""A prebuilt read (recommender/prebuilt.py): its fixed part is built once, and each use is a query of its own."""

from __future__ import annotations

import pytest
from django.utils import timezone

from recommender.home import selectors as home_selectors
from recommender.models import Patient
from recommender.prebuilt import Prebuilt
from tests.factories import make_patient


def test_the_fixed_part_is_built_once_and_each_use_filters_a_fresh_copy(db, clinician):
    first, second = make_patient(by=clinician, family_name="Ash"), make_patient(by=clinician, family_name="Birch")
    built = []

    def build():
        built.append(1)
        return Patient.objects.order_by("family_name").values_list("family_name", flat=True)

    names = Prebuilt(build)
    assert list(names.filter(pk=first.pk)) == ["Ash"]
    assert list(names.filter(pk=second.pk)) == ["Birch"]  # not the first use's rows
    assert list(names.filter()) == ["Ash", "Birch"]
    assert len(built) == 1
    # The kept part is never evaluated: a row read by one use cannot be served to the next.
    assert names.base()._result_cache is None


def test_a_new_row_is_seen_by_the_next_use(db, clinician):
    names = Prebuilt(lambda: Patient.objects.values_list("family_name", flat=True))
    assert list(names.filter()) == []
    make_patient(by=clinician, family_name="Cedar")
    assert list(names.filter()) == ["Cedar"]


def test_one_build_per_key(db):
    zones = []
    reads = Prebuilt(lambda: zones.append(timezone.get_current_timezone_name()) or Patient.objects.all(),
                     key=timezone.get_current_timezone_name)  # fmt: skip
    reads.filter()
    reads.filter()
    with timezone.override("Pacific/Auckland"):
        reads.filter()
    assert zones == [timezone.get_current_timezone_name(), "Pacific/Auckland"]


def test_a_sliced_queryset_cannot_be_prebuilt():
    with pytest.raises(ValueError, match="cannot be sliced"):
        Prebuilt(lambda: Patient.objects.all()[:5]).base()


def test_a_home_list_reads_the_state_of_the_moment(db, clinician):
    """The home page's lists are prebuilt: a patient who appears after a first read is in the second."""
    from tests.factories import make_assessment

    assert list(home_selectors.mma_awaited()) == []
    patient = make_patient(by=clinician)
    make_assessment(patient, by=clinician, payload={"b12": {"value": 250, "unit": "pg/mL"}})
    assert [a.patient_id for a in home_selectors.mma_awaited()] == [patient.pk]
