"""Patient identifiers: the NHS number's shape and check digit, and how it is written for people."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone

NHS_NUMBER_LENGTH = 10
# The earliest date of birth the clinic accepts: anything before is a typing error.
EARLIEST_BIRTH = date(1900, 1, 1)


def nhs_number_normalise(raw: str) -> str:
    """The number as stored: its digits, without the spaces or hyphens people type between the groups."""
    return "".join(raw.split()).replace("-", "")


def nhs_number_is_valid(number: str) -> bool:
    """Ten digits whose last is the Modulus 11 check digit of the first nine (weights 10 down to 2)."""
    if len(number) != NHS_NUMBER_LENGTH or not number.isascii() or not number.isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(number[9])


def nhs_number_display(number: str) -> str:
    """Grouped 3-3-4 as on NHS letters: 943 476 5919."""
    return f"{number[:3]} {number[3:6]} {number[6:]}" if len(number) == NHS_NUMBER_LENGTH else number


def validate_nhs_number(value: str) -> None:
    if not nhs_number_is_valid(value):
        raise ValidationError(
            "This is not a valid NHS number: it needs 10 digits and the last must match the check digit.",
            code="nhs_number",
        )


def validate_date_of_birth(value: date) -> None:
    if value < EARLIEST_BIRTH:
        raise ValidationError(
            f"The date of birth cannot be before {EARLIEST_BIRTH:%d %b %Y}.", code="date_of_birth_too_early"
        )
    if value > timezone.localdate():
        raise ValidationError("The date of birth cannot be in the future.", code="date_of_birth_future")


def age_on(born: date, day: date) -> int:
    """Completed years on ``day`` (a 29 February birthday comes of age on 1 March in other years)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))
