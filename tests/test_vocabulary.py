"""A dose is named the same way on every page, message and calendar."""

from recommender.vocabulary import dose_label


def test_dose_labels():
    assert dose_label("loading", 2, 6) == "Loading 2 of 6"
    assert dose_label("loading", 4, None) == "Loading 4 (alternate days)"
    assert dose_label("maintenance", 3, 6) == "Maintenance 3"
