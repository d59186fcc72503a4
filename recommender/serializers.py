"""A record as JSON-ready data, built from the model's own fields: a field added to a model appears in the export
without editing this module."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import models


def json_value(value):
    """Dates and times as ISO 8601, decimals as exact strings, ids as strings; JSON values as they are."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    return value


def record_fields(instance: models.Model) -> dict:
    """Every concrete field of the record by name; a user is named by their username, another record by its id."""
    fields = {}
    for field in instance._meta.concrete_fields:
        value = getattr(instance, field.attname)
        if field.is_relation and value is not None and field.related_model._meta.label == settings.AUTH_USER_MODEL:
            value = getattr(instance, field.name).get_username()
        fields[field.name] = json_value(value)
    return fields


def choice_words(*model_classes: type[models.Model]) -> dict:
    """The words for every coded field of these models, by model and field: a reader of an export needs no key."""
    return {
        model._meta.model_name: {
            field.name: {str(code): str(word) for code, word in field.flatchoices}
            for field in model._meta.concrete_fields
            if field.choices
        }
        for model in model_classes
    }
