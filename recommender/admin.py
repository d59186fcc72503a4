"""The Django admin: run the service, read every clinical record and its history, never bypass the rules.

Clinical records (patients, assessments, plans, doses) are read-only here: they change only through the services,
which keep the guideline's rules and leave history. No history page reverts anything. Nothing clinical can be
deleted. Opening a clinical record here is recorded in the access audit, which nobody can edit or delete."""

from __future__ import annotations

import csv
import json

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.utils.html import format_html
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from simple_history.admin import SimpleHistoryAdmin

from recommender import roles
from recommender.access import services as access_services
from recommender.access.accounts import user_deactivate, user_sign_out_everywhere
from recommender.access.audit import access_record, patient_id_of
from recommender.clinic import selectors as clinic_selectors
from recommender.clinic import services as clinic_services
from recommender.guideline.units import PG_PER_ML, PMOL_PER_L, UMOL_PER_L, shown_unit
from recommender.injections import services as injections_services
from recommender.models import (
    AccessRecord,
    AccessToken,
    Appointment,
    Assessment,
    CdsCard,
    CdsClient,
    CdsFeedback,
    ClinicClosure,
    ContactAttempt,
    DoseRecord,
    FhirCodeMapping,
    LabProfile,
    Location,
    Patient,
    RecallSettings,
    ReminderSettings,
    Session,
    SessionChange,
    TreatmentPlan,
)
from recommender.signals import clinical_ties
from recommender.vocabulary import quantity

admin.site.site_header = "B12 clinic administration"
admin.site.site_title = "B12 clinic admin"


class MalformedIdIs404:
    """An address whose id cannot be a key of the model (``not-a-uuid``) names no record: 404, never a 500."""

    def _key_or_404(self, field, raw) -> None:
        try:
            field.to_python(unquote(raw))
        except ValidationError:
            raise Http404(f"No {self.model._meta.verbose_name} with that id.") from None

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._key_or_404(self.model._meta.pk, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._key_or_404(self.model._meta.pk, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._key_or_404(self.model._meta.pk, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._key_or_404(self.model._meta.pk, object_id)
        self._key_or_404(self.model.history.model._meta.pk, version_id)
        return super().history_form_view(request, object_id, version_id, extra_context)


class HistoryReadOnly:
    """History pages show old versions, never restore one: django-simple-history's revert form saves whatever
    validates, around every service and its rules (and hiding its button does not stop a POST)."""

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied("History is read-only: records change only through the clinic's pages.")
        return super().history_form_view(request, object_id, version_id, extra_context)


class AuditedAdmin:
    """Opening a clinical record (or its history) in the admin is a look at a patient's record: it is recorded."""

    def _record_access(self, request, object_id) -> None:
        if request.method not in ("GET", "HEAD"):
            return
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            access_record(patient_id=patient_id_of(obj), what=AccessRecord.What.ADMIN, request=request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200:
            self._record_access(request, object_id)
        return response

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        if response.status_code == 200:
            self._record_access(request, object_id)
        return response


class ReadOnlyMixin:
    """Everything visible, nothing editable, added or deleted from the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AssessmentInline(ReadOnlyMixin, admin.TabularInline):
    model = Assessment
    fields = ["sample_date", "status", "im_recommended", "ruleset_id", "ruleset_version", "created_by"]
    readonly_fields = fields
    show_change_link = True
    extra = 0


class PlanInline(ReadOnlyMixin, admin.TabularInline):
    model = TreatmentPlan
    fk_name = "patient"
    fields = ["status", "start_date", "maintenance_every", "maintenance_unit", "next_due_on", "created_by"]
    readonly_fields = fields
    show_change_link = True
    extra = 0


class DoseInline(ReadOnlyMixin, admin.TabularInline):
    model = DoseRecord
    fields = ["phase", "number", "due_date", "outcome", "given_at", "site", "batch", "expiry", "recorded_by"]
    readonly_fields = [*fields, "entered_in_error"]
    extra = 0
    ordering = ["-recorded_at"]


@admin.action(description="Export the whole record as JSON")
def export_record(modeladmin, request, queryset):
    records = []
    for patient in queryset:
        records.append(clinic_selectors.patient_record_export(patient=patient))
        access_record(patient_id=patient.pk, what=AccessRecord.What.EXPORT_ADMIN, request=request)
    body = json.dumps(records[0] if len(records) == 1 else records, indent=2, default=str)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="patient-record.json"'
    return response


@admin.register(Patient)
class PatientAdmin(MalformedIdIs404, HistoryReadOnly, AuditedAdmin, ReadOnlyMixin, SimpleHistoryAdmin):
    """Read-only: demographics are corrected on the patient's page, with a reason, through the service."""

    list_display = ["hospital_number", "family_name", "given_name", "date_of_birth", "created_at"]
    search_fields = ["hospital_number", "family_name", "given_name"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "created_by", "created_at"]
    inlines = [PlanInline, AssessmentInline]
    actions = [export_record]


@admin.register(Assessment)
class AssessmentAdmin(MalformedIdIs404, HistoryReadOnly, AuditedAdmin, ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = ["patient", "sample_date", "status", "im_recommended", "ruleset_id", "ruleset_version", "created_by"]
    list_filter = ["status", "im_recommended", "ruleset_id", "ruleset_version", "lab_profile"]
    search_fields = ["patient__hospital_number", "patient__family_name", "patient__given_name"]
    date_hierarchy = "sample_date"
    list_select_related = ["patient", "created_by"]
    readonly_fields = [
        "id",
        "patient",
        "sample_date",
        "lab_profile",
        "status",
        "im_recommended",
        "ruleset_id",
        "ruleset_version",
        "created_by",
        "created_at",
        "inputs_json",
        "thresholds_json",
        "decision_json",
    ]
    exclude = ["inputs", "decision", "thresholds", "b12_pg_per_ml", "active_b12_pmol_per_l", "homocysteine_umol_per_l"]

    @staticmethod
    def _json(value) -> str:
        return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))

    @admin.display(description="inputs as entered")
    def inputs_json(self, obj):
        return self._json(obj.inputs)

    @admin.display(description="thresholds used")
    def thresholds_json(self, obj):
        return self._json(obj.thresholds)

    @admin.display(description="decision (snapshot)")
    def decision_json(self, obj):
        return self._json(obj.decision)


@admin.register(TreatmentPlan)
class TreatmentPlanAdmin(MalformedIdIs404, HistoryReadOnly, AuditedAdmin, ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = [
        "patient",
        "status",
        "start_date",
        "indications_words",
        "loading_pattern",
        "interval_words",
        "individualised",
        "next_due_on",
        "stable_on",
    ]
    exclude = ["indications"]
    readonly_fields = ["indications_words"]
    list_filter = ["status", "loading_pattern", "maintenance_unit", "individualised", "assessment__ruleset_id"]
    search_fields = ["patient__hospital_number", "patient__family_name", "patient__given_name"]
    date_hierarchy = "start_date"
    list_select_related = ["patient"]
    inlines = [DoseInline]

    @admin.display(description="indications")
    def indications_words(self, obj):
        return obj.indications_text

    @admin.display(description="maintenance", ordering="maintenance_every")
    def interval_words(self, obj):
        return obj.interval_text


@admin.register(DoseRecord)
class DoseRecordAdmin(MalformedIdIs404, HistoryReadOnly, AuditedAdmin, ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = ["plan", "phase", "number", "due_date", "outcome", "given_at", "recorded_by", "entered_in_error"]
    list_filter = ["outcome", "phase", "entered_in_error", "site"]
    search_fields = ["plan__patient__hospital_number", "plan__patient__family_name", "batch"]
    date_hierarchy = "due_date"
    list_select_related = ["plan__patient", "recorded_by"]


@admin.action(description="Make the selected profile the default")
def make_default(modeladmin, request, queryset):
    if queryset.count() != 1:
        modeladmin.message_user(request, "Choose exactly one profile to make the default.", messages.ERROR)
        return
    profile = clinic_services.lab_profile_make_default(profile=queryset.get(), by=request.user)
    modeladmin.message_user(request, f"{profile.name} is now the default lab profile.")


@admin.register(LabProfile)
class LabProfileAdmin(MalformedIdIs404, HistoryReadOnly, SimpleHistoryAdmin):
    list_display = [
        "name",
        "is_default",
        "total_b12_deficient",
        "total_b12_not_deficient",
        "active_b12_deficient",
        "active_b12_not_deficient",
        "mma_upper_limit",
    ]
    list_filter = ["is_default"]

    # Values with their units and without spurious decimals ("180 pg/mL", not "180.00").
    @admin.display(description="total B12 deficient below", ordering="total_b12_deficient_below")
    def total_b12_deficient(self, obj):
        return quantity(obj.total_b12_deficient_below, PG_PER_ML)

    @admin.display(description="total B12 not deficient above", ordering="total_b12_not_deficient_above")
    def total_b12_not_deficient(self, obj):
        return quantity(obj.total_b12_not_deficient_above, PG_PER_ML)

    @admin.display(description="active B12 deficient below", ordering="active_b12_deficient_below")
    def active_b12_deficient(self, obj):
        return quantity(obj.active_b12_deficient_below, PMOL_PER_L)

    @admin.display(description="active B12 not deficient above", ordering="active_b12_not_deficient_above")
    def active_b12_not_deficient(self, obj):
        return quantity(obj.active_b12_not_deficient_above, PMOL_PER_L)

    @admin.display(description="MMA upper limit", ordering="mma_upper_limit_umol_l")
    def mma_upper_limit(self, obj):
        return quantity(obj.mma_upper_limit_umol_l, shown_unit(UMOL_PER_L))

    search_fields = ["name"]
    readonly_fields = ["is_default"]
    actions = [make_default]

    def has_delete_permission(self, request, obj=None):
        # A profile used by an assessment is protected; an unused one may go.
        return super().has_delete_permission(request, obj) and (
            obj is None or not Assessment.objects.filter(lab_profile=obj).exists()
        )

    def save_model(self, request, obj, form, change):
        obj._history_user = request.user
        super().save_model(request, obj, form, change)


@admin.register(ClinicClosure)
class ClinicClosureAdmin(MalformedIdIs404, HistoryReadOnly, SimpleHistoryAdmin):
    """Days the clinic is closed besides its weekdays and the public holidays. Saving or deleting one moves the
    plans due around it (through the service, with history)."""

    list_display = ["date", "reason"]
    date_hierarchy = "date"
    search_fields = ["reason"]

    def save_model(self, request, obj, form, change):
        previous = form.initial.get("date") if change else None
        injections_services.clinic_closure_save(closure=obj, previous_date=previous, by=request.user)

    def delete_model(self, request, obj):
        injections_services.clinic_closure_remove(closure=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for closure in queryset:
            injections_services.clinic_closure_remove(closure=closure, by=request.user)


@admin.action(description="Revoke the selected tokens")
def revoke_tokens(modeladmin, request, queryset):
    for token in queryset:
        access_services.access_token_revoke(token=token)
    modeladmin.message_user(request, f"{queryset.count()} token(s) revoked.")


@admin.register(AccessToken)
class AccessTokenAdmin(MalformedIdIs404, admin.ModelAdmin):
    list_display = ["user", "purpose", "name", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["purpose", "revoked_at"]
    search_fields = ["user__username", "name"]
    readonly_fields = [
        "id",
        "user",
        "purpose",
        "name",
        "digest",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = [revoke_tokens]

    def has_add_permission(self, request):
        return False  # issued with `manage.py api_token` or the calendar feed page, which show the secret once

    def has_delete_permission(self, request, obj=None):
        return False


# The access audit: searchable, filterable, exportable as CSV; never added, changed or deleted, by anyone.


@admin.action(description="Export the selected access records as CSV")
def export_access_csv(modeladmin, request, queryset):
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="access-records.csv"'
    writer = csv.writer(response)
    writer.writerow(["when", "user", "what", "hospital number", "patient", "client address", "request id"])
    for record in queryset.select_related("patient").order_by("at"):
        writer.writerow(
            [
                record.at.isoformat(),
                record.username,
                record.what,
                record.patient.hospital_number,
                record.patient.display_name,
                record.ip or "",
                record.request_id,
            ]
        )
    return response


class ReadOnlyReport(MalformedIdIs404, admin.ModelAdmin):
    """A record the service writes and people only read: the access audit, the CDS cards and their feedback."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccessRecord)
class AccessRecordAdmin(ReadOnlyReport):
    list_display = ["at", "username", "what", "patient", "ip"]
    list_filter = ["what", "at", "user"]
    search_fields = ["patient__hospital_number", "patient__family_name", "patient__given_name", "username", "ip"]
    date_hierarchy = "at"
    list_select_related = ["patient"]
    actions = [export_access_csv]


# Users: the admin group manages accounts within the three roles; only a superuser grants anything more.
# People outlive their accounts: an account named in the clinical record is deactivated, never deleted.

_PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "user_permissions")


def _beyond_roles(user) -> bool:
    """Whether an account holds more than a role gives: superuser, own permissions, a group that is not a role."""
    return user.is_superuser or user.user_permissions.exists() or user.groups.exclude(name__in=roles.ROLES).exists()


def _manageable(request, users):
    if request.user.is_superuser:
        return list(users)
    return [user for user in users if not _beyond_roles(user)]


@admin.action(description="Deactivate the selected accounts (and sign them out everywhere)")
def deactivate_users(modeladmin, request, queryset):
    for user in _manageable(request, queryset):
        if user.pk == request.user.pk:
            modeladmin.message_user(request, "You cannot deactivate your own account.", messages.ERROR)
            continue
        ended = user_deactivate(user=user, by=request.user)
        modeladmin.log_change(request, user, "Deactivated (and signed out everywhere).")
        modeladmin.message_user(request, f"{user.get_username()} deactivated; {ended} session(s) ended.")


@admin.action(description="Sign the selected accounts out everywhere")
def sign_out_everywhere(modeladmin, request, queryset):
    for user in _manageable(request, queryset):
        ended = user_sign_out_everywhere(user=user, by=request.user)
        modeladmin.log_change(request, user, "Signed out everywhere.")
        modeladmin.message_user(request, f"{user.get_username()}: {ended} session(s) ended.")


class RoleUserAdmin(MalformedIdIs404, UserAdmin):
    actions = [deactivate_users, sign_out_everywhere]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += [name for name in _PRIVILEGE_FIELDS if name not in readonly]
        return readonly

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = Group.objects.filter(name__in=roles.ROLES)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        if obj is None or request.user.is_superuser:
            return allowed
        return allowed and not _beyond_roles(obj)

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        for user in objs:
            ties = clinical_ties(user)
            if ties:
                protected.append(
                    f"{user.get_username()} is named in the clinical record ({'; '.join(ties)}): "
                    "deactivate the account instead."
                )
        return deleted, model_count, perms_needed, protected


class RoleGroupAdmin(GroupAdmin):
    """Groups are the three roles, their permissions kept by recommender/roles.py: only a superuser changes them."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


User = get_user_model()
for model, model_admin in ((User, RoleUserAdmin), (Group, RoleGroupAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)


# django-otp's device pages would show each authenticator's secret key: kept out of the admin. An authenticator is
# reset with `manage.py two_factor_reset USERNAME` (the user sets up a new one at the next sign-in).
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)
# Booking (issue 17): admins define the locations and their sessions; appointments change only through the
# booking pages (their services keep the capacity and the windows), so the admin shows them read-only.


@admin.register(Location)
class LocationAdmin(MalformedIdIs404, HistoryReadOnly, SimpleHistoryAdmin):
    list_display = ["name", "address", "active"]
    search_fields = ["name"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a location with appointments stays: set it inactive instead


@admin.register(Session)
class SessionAdmin(MalformedIdIs404, HistoryReadOnly, SimpleHistoryAdmin):
    list_display = ["location", "weekday", "start", "end", "slot_minutes", "capacity", "valid_from", "valid_until"]
    list_filter = ["location", "weekday"]


@admin.register(SessionChange)
class SessionChangeAdmin(MalformedIdIs404, HistoryReadOnly, SimpleHistoryAdmin):
    list_display = ["date", "kind", "session", "location", "start", "end", "reason"]
    list_filter = ["kind"]
    date_hierarchy = "date"


@admin.register(Appointment)
class AppointmentAdmin(MalformedIdIs404, HistoryReadOnly, ReadOnlyMixin, SimpleHistoryAdmin):
    list_display = ["starts_at", "location", "plan", "kind", "phase", "number", "seat", "status"]
    list_filter = ["status", "location"]
    date_hierarchy = "starts_at"
    readonly_fields = [f.name for f in Appointment._meta.concrete_fields]


# FHIR (issue 15): the codes imported lab results map through. LOINC rows come with the migration; local SNOMED or
# lab codes are added here.
@admin.register(FhirCodeMapping)
class FhirCodeMappingAdmin(MalformedIdIs404, HistoryReadOnly, SimpleHistoryAdmin):
    list_display = ["code", "system", "unit", "input", "input_unit", "display", "active"]
    list_filter = ["input", "system", "active"]
    search_fields = ["code", "display"]

    def save_model(self, request, obj, form, change):
        obj._history_user = request.user
        super().save_model(request, obj, form, change)


@admin.register(ReminderSettings)
class ReminderSettingsAdmin(MalformedIdIs404, HistoryReadOnly, SimpleHistoryAdmin):
    """The one row of reminder settings (issue 16): only admins change it; each change is kept in its history."""

    list_display = ["__str__", "days_before", "max_attempts", "retry_minutes"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not ReminderSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.pk = 1  # the singleton
        obj._history_user = request.user
        super().save_model(request, obj, form, change)


# ---- Recall (issue 16) ---------------------------------------------------------------------------------------------


@admin.register(RecallSettings)
class RecallSettingsAdmin(MalformedIdIs404, HistoryReadOnly, SimpleHistoryAdmin):
    """The recall list's numbers: one row, changed by admins (the only role with change_recallsettings)."""

    list_display = ["__str__", "overdue_days", "dnas_in_a_row"]

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request) and not RecallSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ContactAttempt)
class ContactAttemptAdmin(MalformedIdIs404, HistoryReadOnly, AuditedAdmin, ReadOnlyMixin, SimpleHistoryAdmin):
    """Contact attempts are recorded from the recall list; here they are read."""

    list_display = ["patient", "at", "method", "outcome", "recorded_by"]
    list_filter = ["method", "outcome"]
    search_fields = ["patient__hospital_number", "patient__family_name"]
    date_hierarchy = "at"
    list_select_related = ["patient", "recorded_by"]


# CDS Hooks (recommender/interop/cds/): the EHRs allowed to call, the cards issued, and what clinicians did with them.


@admin.register(CdsClient)
class CdsClientAdmin(MalformedIdIs404, admin.ModelAdmin):
    list_display = ["issuer", "name", "origin", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["issuer", "name", "origin"]


@admin.register(CdsCard)
class CdsCardAdmin(ReadOnlyReport):
    list_display = ["issued_at", "service", "indicator", "summary", "ruleset", "client"]
    list_filter = ["service", "indicator", "client"]
    date_hierarchy = "issued_at"


@admin.register(CdsFeedback)
class CdsFeedbackAdmin(ReadOnlyReport):
    """The report of advice set aside: filter on 'Overridden' to see which cards, and why."""

    list_display = ["outcome_at", "outcome", "advice", "service", "override_display", "user_comment"]
    list_filter = ["outcome", "override_code", "card__service", "card__indicator"]
    search_fields = ["card__summary", "user_comment"]
    date_hierarchy = "outcome_at"
    list_select_related = ["card"]

    @admin.display(description="advice", ordering="card__summary")
    def advice(self, feedback):
        return feedback.card.summary

    @admin.display(description="service", ordering="card__service")
    def service(self, feedback):
        return feedback.card.service
