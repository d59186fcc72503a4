"""How every clinical record is written: validated, with who and why in its history, under a row lock."""

from __future__ import annotations

import functools
import logging
from contextlib import nullcontext

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import BooleanField, CheckConstraint, ExpressionWrapper, Model, Q, Value
from django.db.models.functions import Coalesce
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE
from django.db.models.sql.subqueries import InsertQuery

from recommender.models import (
    REASON_MAX_LENGTH,
    TreatmentPlan,
)

log = logging.getLogger("recommender.records")


def reason_error(reason: str, missing: str) -> str:
    """The message for a reason that is missing or too long, or "" for a good one."""
    if not reason.strip():
        return missing
    if len(reason.strip()) > REASON_MAX_LENGTH:
        return f"Keep the reason to {REASON_MAX_LENGTH} characters (it has {len(reason.strip())})."
    return ""


def save_record(instance, *, by, reason: str = "", **kwargs) -> None:
    """Validate, then save, recording who made the change (and why) in the instance's history."""
    validate_record(instance)
    instance._history_user = by
    if reason:
        instance._change_reason = reason[:100]
    instance.save(**kwargs)


def validate_record(instance: Model) -> None:
    """``full_clean()``, the same checks and messages, in fewer round trips: a related row the instance holds (read
    from the database, and every clinical row is protected from deletion) is not looked up again, and the check
    constraints are evaluated together in one query rather than one query and a savepoint each (a plan and its
    assessment were 70 statements, 30 of them these)."""
    errors: dict = {}
    held = {
        field.name
        for field in instance._meta.concrete_fields
        if field.is_relation and field.is_cached(instance) and _read_from_database(getattr(instance, field.name))
    }
    try:
        instance.clean_fields(exclude=held)
    except ValidationError as error:
        errors = error.update_error_dict(errors)
    try:
        instance.clean()
    except ValidationError as error:
        errors = error.update_error_dict(errors)
    exclude = {name for name in errors if name != NON_FIELD_ERRORS}  # as full_clean: only fields that passed
    try:
        instance.validate_unique(exclude=exclude)
    except ValidationError as error:
        errors = error.update_error_dict(errors)
    exclude = {name for name in errors if name != NON_FIELD_ERRORS}  # and the fields that failed a unique check
    checks = []
    for model, constraints in instance.get_constraints():
        for constraint in constraints:
            if isinstance(constraint, CheckConstraint):
                if not (exclude and constraint._expression_refs_exclude(model, constraint.condition, exclude)):
                    checks.append(constraint)
                continue
            try:
                constraint.validate(model, instance, exclude=exclude, using=connection.alias)
            except ValidationError as error:
                if getattr(error, "code", None) == "unique" and len(constraint.fields) == 1:
                    errors.setdefault(constraint.fields[0], []).append(error)
                else:
                    errors = error.update_error_dict(errors)
    for constraint in _failed_checks(instance, checks, exclude):
        error = ValidationError(constraint.get_violation_error_message(), code=constraint.violation_error_code)
        errors = error.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def _read_from_database(related) -> bool:
    return related is not None and not related._state.adding


def _failed_checks(instance: Model, checks: list[CheckConstraint], exclude: set[str]) -> list[CheckConstraint]:
    """The check constraints the instance's values break, as CheckConstraint.validate decides each (a condition
    that is unknown passes), all in one SELECT (in a savepoint inside a transaction, as Django's own check)."""
    if not checks:
        return []
    query = Query(None)
    for name, value in instance._get_field_expression_map(meta=instance._meta, exclude=exclude).items():
        query.add_annotation(value if hasattr(value, "resolve_expression") else Value(value), name, select=False)
    for number, constraint in enumerate(checks):
        condition = ExpressionWrapper(Q(constraint.condition), output_field=BooleanField())
        if connection.features.supports_comparing_boolean_expr:
            condition = Coalesce(condition, True, output_field=BooleanField())
        query.add_annotation(condition, f"_check_{number}")
    savepoint = transaction.atomic() if connection.in_atomic_block else nullcontext()
    try:
        with savepoint:
            row = query.get_compiler(connection=connection).execute_sql(SINGLE)
    except DatabaseError as error:  # as Django's check: a condition the database cannot evaluate is not refused
        log.warning("check constraints not evaluated for %s: %s", type(instance).__name__, error)
        return []
    return [constraint for constraint, holds in zip(checks, row, strict=True) if not holds]


def locked_active_plan(plan: TreatmentPlan) -> TreatmentPlan:
    locked = TreatmentPlan.objects.select_for_update().get(pk=plan.pk)
    if locked.status != TreatmentPlan.Status.ACTIVE:
        raise ValidationError("This plan is no longer active.")
    return locked


def person_name(user) -> str:
    return user.get_full_name() or user.get_username()


def check_length(errors: dict, field: str, value: str, limit: int = REASON_MAX_LENGTH) -> None:
    if len(value) > limit:
        errors[field] = f"At most {limit} characters, please (this has {len(value)})."


# --- Rows written on every request (the access audit, a CDS call's JWT id and cards): the INSERT compiled once ---


def insert_sql(rows: list[Model]) -> tuple[str, tuple]:
    """The INSERT of these rows (of one model) as bulk_create writes it, without RETURNING: SQL and parameters.
    One row: the SQL compiled once per model, the values prepared as the compiler prepares them (compiling it on
    every call cost a tenth of a CDS call)."""
    if len(rows) != 1:
        return _compiled_insert(type(rows[0]), rows)
    sql, fields = _one_row_insert(type(rows[0]), connection.vendor, returning=False)
    return sql, _prepared(rows[0], fields)


def insert_one(instance: Model) -> None:
    """INSERT one new row and set the fields the database fills (its id): what ``save()`` does for a new row of a
    model with no signal receivers and no history, without compiling the SQL again on every call (the ORM's
    compilation of a one-row INSERT cost as much as its round trip). The caller validates first. A model that has
    save signal receivers (a history, a cache to retire) is saved by ``save()``, so that none is skipped."""
    model = type(instance)
    if pre_save.has_listeners(model) or post_save.has_listeners(model):
        instance.save(force_insert=True)
        return
    sql, fields = _one_row_insert(model, connection.vendor, returning=True)
    with connection.cursor() as cursor:
        cursor.execute(sql, _prepared(instance, fields))
        returned = cursor.fetchone() if model._meta.db_returning_fields else ()
    for field, value in zip(model._meta.db_returning_fields, returned or (), strict=False):
        setattr(instance, field.attname, value)
    instance._state.adding = False
    instance._state.db = connection.alias


def _prepared(instance: Model, fields: tuple) -> tuple:
    return tuple(field.get_db_prep_save(field.pre_save(instance, add=True), connection) for field in fields)


def _compiled_insert(model: type[Model], rows: list[Model], *, returning: bool = False) -> tuple[str, tuple]:
    query = InsertQuery(model)
    query.insert_values(_insert_fields(model), rows)
    compiler = query.get_compiler(connection=connection)
    if returning:
        compiler.returning_fields = model._meta.db_returning_fields
    [(sql, params)] = compiler.as_sql()
    return sql, tuple(params)


def _insert_fields(model: type[Model]) -> list:
    return [field for field in model._meta.concrete_fields if not field.db_returning]


@functools.cache
def _one_row_insert(model: type[Model], vendor: str, *, returning: bool) -> tuple[str, tuple]:
    """The SQL of a one-row INSERT of ``model`` on this kind of database, and the fields its parameters are."""
    sql, _ = _compiled_insert(model, [model()], returning=returning)
    return sql, tuple(_insert_fields(model))
