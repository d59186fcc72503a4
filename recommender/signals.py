"""Authentication events in the application log: who, what, when, from where. Never a password."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models import ProtectedError
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save, pre_delete
from django.dispatch import receiver

from recommender import shared_cache

log = logging.getLogger("recommender.auth")


def _ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "-") if request is not None else "-"


@receiver(user_logged_in)
def logged_in(sender, request, user, **kwargs):
    log.info("login succeeded user=%s ip=%s", user.get_username(), _ip(request))


@receiver(user_logged_out)
def logged_out(sender, request, user, **kwargs):
    log.info("logout user=%s ip=%s", user.get_username() if user else "-", _ip(request))


@receiver(user_login_failed)
def login_failed(sender, credentials, request=None, **kwargs):
    # credentials is already cleansed by Django; only the username is logged.
    log.warning("login failed user=%s ip=%s", credentials.get("username", "-"), _ip(request))


# People outlive their accounts: whoever created, changed or looked at clinical data stays named in the record.
# Patient, Assessment, TreatmentPlan and DoseRecord already PROTECT their created_by/recorded_by, AccessRecord its
# user; django-simple-history's history_user is SET_NULL by design, so the deletion itself is refused here.


def clinical_ties(user) -> list[str]:
    """What ties an account to the clinical record, in words ("2 changes in the dose record history"); empty when
    nothing does."""
    from django.apps import apps

    ties = []
    for model in apps.get_app_config("recommender").get_models():
        if model._meta.model_name == "accesstoken":
            continue  # a token is the account's own, not the record's: it goes with the account
        historical = hasattr(model, "instance_type")
        for field in model._meta.get_fields():
            if not (field.many_to_one and field.related_model is type(user)):
                continue
            if historical and field.name != "history_user":
                continue  # a history row's copy of created_by is already counted on the record itself
            count = model.objects.filter(**{field.name: user}).count()
            if count:
                what = (
                    "changes in the " + str(model.instance_type._meta.verbose_name) + " history"
                    if historical
                    else (f"{model._meta.verbose_name_plural} ({field.verbose_name})")
                )
                ties.append(f"{count} {what}")
    return ties


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL)
def refuse_deleting_people_of_the_record(sender, instance, **kwargs):
    ties = clinical_ties(instance)
    if ties:
        raise ProtectedError(
            f"{instance.get_username()} cannot be deleted: they are named in the clinical record "
            f"({'; '.join(ties)}). Deactivate the account instead.",
            set(),
        )


# The nodes' shared cache (recommender/shared_cache.py): who may do what, and the default lab profile, are read from
# it; any change to them retires the entries on every node.


@receiver(m2m_changed, sender=get_user_model().groups.through)
@receiver(m2m_changed, sender=get_user_model().user_permissions.through)
@receiver(m2m_changed, sender=Group.permissions.through)
def permissions_changed(sender, action, **kwargs):
    if action in ("post_add", "post_remove", "post_clear"):
        shared_cache.changed(shared_cache.PERMISSIONS)


@receiver(post_save, sender=Group)
@receiver(post_delete, sender=Group)
@receiver(post_save, sender=Permission)
@receiver(post_delete, sender=Permission)
def permission_records_changed(sender, **kwargs):
    shared_cache.changed(shared_cache.PERMISSIONS)


@receiver(post_save, sender="recommender.LabProfile")
@receiver(post_delete, sender="recommender.LabProfile")
def lab_profile_changed(sender, **kwargs):
    shared_cache.changed(shared_cache.LAB_PROFILES)


@receiver(post_save, sender="recommender.TreatmentPlan")
@receiver(post_delete, sender="recommender.TreatmentPlan")
@receiver(post_save, sender="recommender.Assessment")
@receiver(post_delete, sender="recommender.Assessment")
def caseload_changed(sender, **kwargs):
    shared_cache.changed(shared_cache.CASELOAD)


@receiver(post_save, sender="recommender.CdsClient")
@receiver(post_delete, sender="recommender.CdsClient")
def cds_client_changed(sender, **kwargs):
    shared_cache.changed(shared_cache.CDS_CLIENTS)


@receiver(post_save, sender="recommender.Session")
@receiver(post_delete, sender="recommender.Session")
@receiver(post_save, sender="recommender.SessionChange")
@receiver(post_delete, sender="recommender.SessionChange")
@receiver(post_save, sender="recommender.Location")
@receiver(post_delete, sender="recommender.Location")
@receiver(post_save, sender="recommender.ClinicClosure")
@receiver(post_delete, sender="recommender.ClinicClosure")
def clinic_sessions_changed(sender, **kwargs):
    shared_cache.changed(shared_cache.CLINIC_SESSIONS)
    shared_cache.changed(shared_cache.CLINIC_LISTS)  # the reviews' dates follow the clinic's calendar


def _a_sign_in(update_fields) -> bool:
    """A user saved by a sign-in (its last_login only): nothing any page shows has changed."""
    return update_fields is not None and set(update_fields) == {"last_login"}


# The home pages' clinic-wide lists show patients, their latest assessments, their plans and doses, and who recorded
# a missed dose: any change to one retires the rendered lists on every node (a write through ``QuerySet.update`` or
# ``bulk_update`` says so itself: recommender/injections/services.py).
@receiver(post_save, sender="recommender.Patient")
@receiver(post_delete, sender="recommender.Patient")
@receiver(post_save, sender="recommender.Assessment")
@receiver(post_delete, sender="recommender.Assessment")
@receiver(post_save, sender="recommender.TreatmentPlan")
@receiver(post_delete, sender="recommender.TreatmentPlan")
@receiver(post_save, sender="recommender.DoseRecord")
@receiver(post_delete, sender="recommender.DoseRecord")
@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def clinic_lists_changed(sender, update_fields=None, **kwargs):
    if _a_sign_in(update_fields):
        return
    shared_cache.changed(shared_cache.CLINIC_LISTS)


# A plan's pages and a patient's page are kept in the shared cache per record (``shared_cache.record``): a write to
# anything they show retires that plan's and that patient's entries, and only theirs. What every record's pages show
# (people's names) retires them all (``RECORDS``), as does a bulk write (recommender/injections/services.py).
def _plans_of(patient_id) -> list:
    from recommender.models import TreatmentPlan

    return list(TreatmentPlan.objects.filter(patient_id=patient_id).values_list("pk", flat=True))


def _patient_of_plan(instance):
    plan = instance._state.fields_cache.get("plan")  # the plan the service already holds, when it does
    if plan is not None:
        return plan.patient_id
    from recommender.models import TreatmentPlan

    return TreatmentPlan.objects.filter(pk=instance.plan_id).values_list("patient_id", flat=True).first()


def retire_records(*, plans=(), patients=()) -> None:
    for pk in plans:
        shared_cache.changed(shared_cache.record("plan", pk))
    for pk in patients:
        shared_cache.changed(shared_cache.record("patient", pk))


@receiver(post_save, sender="recommender.Patient")
@receiver(post_delete, sender="recommender.Patient")
def patient_record_changed(sender, instance, **kwargs):
    if shared_cache.is_shared():
        retire_records(patients=[instance.pk], plans=_plans_of(instance.pk))


@receiver(post_save, sender="recommender.Assessment")
@receiver(post_delete, sender="recommender.Assessment")
def assessment_record_changed(sender, instance, **kwargs):
    if shared_cache.is_shared():  # a plan page says whether the MMA result a plan waits for has come
        retire_records(patients=[instance.patient_id], plans=_plans_of(instance.patient_id))


@receiver(post_save, sender="recommender.TreatmentPlan")
@receiver(post_delete, sender="recommender.TreatmentPlan")
def plan_record_changed(sender, instance, **kwargs):
    if shared_cache.is_shared():
        retire_records(plans=[instance.pk], patients=[instance.patient_id])


@receiver(post_save, sender="recommender.DoseRecord")
@receiver(post_delete, sender="recommender.DoseRecord")
@receiver(post_save, sender="recommender.Appointment")
@receiver(post_delete, sender="recommender.Appointment")
def plan_part_changed(sender, instance, **kwargs):
    if shared_cache.is_shared():
        retire_records(plans=[instance.plan_id], patients=[_patient_of_plan(instance)])


@receiver(post_save, sender="recommender.Appointment")
@receiver(post_delete, sender="recommender.Appointment")
def bookings_changed(sender, **kwargs):
    shared_cache.changed(shared_cache.BOOKINGS)  # a seat taken or freed: every plan's proposals are retired


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
def people_changed(sender, update_fields=None, **kwargs):
    if _a_sign_in(update_fields):
        return
    shared_cache.changed(shared_cache.RECORDS)


# Tokens are read from the shared cache with their user and whether the user has a clinical role: issuing, revoking
# or using a token, and any change to a user (but a sign-in's last_login), their groups or a group, retire every
# cached token at once.
@receiver(post_save, sender="recommender.AccessToken")
@receiver(post_delete, sender="recommender.AccessToken")
@receiver(post_save, sender=settings.AUTH_USER_MODEL)
@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
@receiver(post_save, sender=Group)
@receiver(post_delete, sender=Group)
def access_token_records_changed(sender, update_fields=None, **kwargs):
    if _a_sign_in(update_fields):
        return
    shared_cache.changed(shared_cache.ACCESS_TOKENS)


@receiver(m2m_changed, sender=get_user_model().groups.through)
def access_token_roles_changed(sender, action, **kwargs):
    if action in ("post_add", "post_remove", "post_clear"):
        shared_cache.changed(shared_cache.ACCESS_TOKENS)


@receiver(post_migrate)
def migrated(sender, app_config=None, **kwargs):
    """A migration may write rows (a data migration's historical models send no signal the receivers above hear):
    nothing the nodes keep from before it holds."""
    if app_config is not None and app_config.label == "recommender":
        shared_cache.changed_everything()
