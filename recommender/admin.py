"""The Django admin: run the service, read every clinical record and its history, never bypass the rules.

Clinical records (assessments, plans, doses) are read-only here: they change only through the services, which keep
the guideline's rules and leave history. Nothing clinical can be deleted."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from recommender.access import services as access_services
from recommender.clinic import selectors as clinic_selectors
from recommender.clinic import services as clinic_services
from recommender.injections import services as injections_services
from recommender.models import AccessToken, Assessment, ClinicClosure, DoseRecord, LabProfile, Patient, TreatmentPlan

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
    records = [clinic_selectors.patient_record_export(patient=p) for p in queryset]
    body = json.dumps(records[0] if len(records) == 1 else records, indent=2, default=str)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="patient-record.json"'
    return response


@admin.register(Patient)
class PatientAdmin(MalformedIdIs404, SimpleHistoryAdmin):
    list_display = ["hospital_number", "family_name", "given_name", "date_of_birth", "created_at"]
    search_fields = ["hospital_number", "family_name", "given_name"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "created_by", "created_at"]
    inlines = [PlanInline, AssessmentInline]
    actions = [export_record]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.created_by_id = obj.created_by_id or request.user.pk
        obj._history_user = request.user
        super().save_model(request, obj, form, change)


@admin.register(Assessment)
class AssessmentAdmin(MalformedIdIs404, ReadOnlyMixin, SimpleHistoryAdmin):
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
class TreatmentPlanAdmin(MalformedIdIs404, ReadOnlyMixin, SimpleHistoryAdmin):
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
class DoseRecordAdmin(MalformedIdIs404, ReadOnlyMixin, SimpleHistoryAdmin):
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
class LabProfileAdmin(MalformedIdIs404, SimpleHistoryAdmin):
    list_display = [
        "name",
        "is_default",
        "total_b12_deficient_below",
        "total_b12_not_deficient_above",
        "active_b12_deficient_below",
        "active_b12_not_deficient_above",
        "mma_upper_limit_umol_l",
    ]
    list_filter = ["is_default"]
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
class ClinicClosureAdmin(MalformedIdIs404, SimpleHistoryAdmin):
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
    list_display = ["user", "purpose", "name", "created_at", "revoked_at"]
    list_filter = ["purpose", "revoked_at"]
    search_fields = ["user__username", "name"]
    readonly_fields = ["id", "user", "purpose", "name", "digest", "created_at", "revoked_at"]
    actions = [revoke_tokens]

    def has_add_permission(self, request):
        return False  # issued with `manage.py api_token` or the calendar feed page, which show the secret once

    def has_delete_permission(self, request, obj=None):
        return False
