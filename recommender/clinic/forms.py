"""Forms for the clinic: patients, the assessment with its plan choices, and plan actions."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Div, Field, Fieldset, Layout, Row
from django import forms
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property

from recommender.clinic.selectors import lab_profile_choices, thresholds_for
from recommender.guideline import DEFAULT_RULESET, InvalidAssessment, Recommendation, decide, parse_assessment
from recommender.guideline.inputs import FLAGS, MEASUREMENTS, NUMBERS, NumericInput
from recommender.guideline.plan_options import (
    DAYS,
    MONTHS,
    WEEKS,
    individualised_interval_error,
    maintenance_month_choices,
)
from recommender.guideline.units import shown_unit
from recommender.identifiers import EARLIEST_BIRTH, nhs_number_normalise
from recommender.injections.forms import length_hint
from recommender.models import (
    CHANGE_REASON_MAX_LENGTH,
    REASON_MAX_LENGTH,
    LabProfile,
    Location,
    Patient,
    TreatmentPlan,
)
from recommender.ruleset_words import RULESET_WORDS
from recommender.web.plaintext import PlainTextForm, PlainTextModelForm
from recommender.web.widgets import DayMonthYearField, DayMonthYearInput

# Engine field → the form field its errors belong to (a measurement's value field; plain numbers and flags as named).
ERROR_FIELDS = {field: f"{field}_value" for field in MEASUREMENTS}


def _unit_choices(units, *, blank: bool) -> list[tuple[str, str]]:
    shown = [(u, shown_unit(u)) for u in units]
    return [("", "unit…"), *shown] if blank else shown


def _value_field(spec: NumericInput, label: str = "", help_text: str | None = None) -> forms.DecimalField:
    """A number exactly as typed: no digit or decimal limits of its own (the engine's definition holds them)."""
    return forms.DecimalField(
        label=label or spec.label,
        required=False,
        help_text=spec.help_text if help_text is None else help_text,
        error_messages={"invalid": spec.invalid_number_message},
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )


class UnitField(forms.ChoiceField):
    """A unit select offering the engine's units; anything else posted is refused by the engine, in its words."""

    def valid_value(self, value) -> bool:
        return True


def _input_fields() -> dict[str, forms.Field]:
    """The form's fields for the engine's inputs, in the engine's order, from its definitions."""
    fields: dict[str, forms.Field] = {}
    for spec in MEASUREMENTS.values():
        fields[f"{spec.field}_value"] = _value_field(spec)
        fields[f"{spec.field}_unit"] = UnitField(
            label="Unit", required=False, choices=_unit_choices(spec.units, blank=len(spec.units) > 1)
        )
        if spec.limit_plausible:
            fields[f"{spec.field}_upper_limit"] = _value_field(spec, spec.limit_label, spec.limit_help)
    for spec in NUMBERS.values():
        fields[spec.field] = _value_field(spec)
    for flag in FLAGS.values():
        fields[flag.field] = forms.BooleanField(required=False, label=flag.label, help_text=flag.help_text)
    return fields


AssessmentInputs = type("AssessmentInputs", (PlainTextForm,), _input_fields())


def assessment_initial(query) -> dict[str, str]:
    """The assessment form's inputs named in a query string (a link from the EHR's card): initial values only, so
    the clinician sees and checks them; the form validates them like anything typed when it is posted."""
    names = {*(name for name in AssessmentInputs.base_fields if name not in FLAGS), "sample_date"}  # flags: by hand
    return {name: query[name][:40] for name in names if query.get(name) and "\x00" not in query[name]}


class PatientForm(PlainTextModelForm):
    # Wider than the stored 10 digits: people type the number in groups ("943 476 5919").
    nhs_number = forms.CharField(
        label="NHS number",
        required=False,
        max_length=20,
        help_text="Optional. 10 digits; spaces are ignored.",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    class Meta:
        model = Patient
        fields = ["hospital_number", "family_name", "given_name", "date_of_birth", "nhs_number", "usual_location"]
        field_classes = {"date_of_birth": DayMonthYearField}
        widgets = {"date_of_birth": DayMonthYearInput()}
        labels = {"usual_location": "Usual clinic"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["date_of_birth"].widget.attrs |= {
            "min": EARLIEST_BIRTH.isoformat(),
            "max": timezone.localdate().isoformat(),
        }
        location = self.fields["usual_location"]
        # Active clinics only (a closed one stays listed for the patient who still has it, to be changed).
        location.queryset = Location.objects.filter(Q(active=True) | Q(pk=self.instance.usual_location_id)).order_by(
            "name"
        )
        location.empty_label = "Not chosen yet (set by the first booking)"
        location.help_text = "Where the patient usually has injections: appointments are proposed there."
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean_hospital_number(self):
        return self.cleaned_data["hospital_number"].strip().upper()

    def clean_nhs_number(self):
        return nhs_number_normalise(self.cleaned_data["nhs_number"]) or None


class PatientEditForm(PatientForm):
    """A correction of the demographics: the same fields, and the reason kept in the patient's history."""

    reason = forms.CharField(
        label="Reason for the correction",
        max_length=CHANGE_REASON_MAX_LENGTH,
        help_text=f"Up to {CHANGE_REASON_MAX_LENGTH} characters; kept in the patient's history.",
        error_messages={"required": "Give the reason for the correction."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.nhs_number:
            self.initial["nhs_number"] = self.instance.nhs_number_display

    def patient_changes(self) -> dict:
        """The keyword arguments of services.patient_update chosen here, from a valid form."""
        return {name: self.cleaned_data[name] for name in (*PatientForm.Meta.fields, "reason")}


class AssessmentForm(AssessmentInputs):
    field_order = ["sample_date", "lab_profile"]  # then the engine's inputs, in their order

    sample_date = DayMonthYearField(
        label="Sample date",
        help_text="Day/month/year: when the blood was taken (before any B12 was given).",
    )
    lab_profile = forms.ModelChoiceField(
        queryset=LabProfile.objects.all(),
        required=False,
        label="Lab thresholds",
        empty_label="Seed ruleset (NICE bands)",
        help_text="The lab or assay whose reference bands apply.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.recommendation: Recommendation | None = None
        self.payload: dict | None = None
        if not self.is_bound:
            self.fields["sample_date"].initial = timezone.localdate
            # One read of the profiles (from the nodes' shared cache when there is one): the choices and the default.
            profiles = lab_profile_choices()
            field = self.fields["lab_profile"]
            field.choices = [("", field.empty_label), *((pk, label) for pk, label, _ in profiles)]
            field.initial = next((pk for pk, _, is_default in profiles if is_default), None)
            self._profiles = profiles

    def unbound_layout_key(self, context) -> tuple | None:
        """What this unbound form's HTML depends on ({% crispy_once %}, web/layouts.py): the day and the lab
        profiles offered; None when something was pre-filled (a link's or an import's results are never kept) or a
        decision is shown."""
        if self.initial or context.get("panel") or context.get("oob"):
            return None
        return (self.prefix, self.auto_id, timezone.localdate(), tuple(self._profiles))

    @cached_property
    def helper(self) -> FormHelper:
        """The layout, built only when the whole form is rendered (the live panel never renders it)."""
        helper = FormHelper()
        helper.form_tag = False
        helper.disable_csrf = True
        pair = "col-7 col-md-8"
        unit = "col-5 col-md-4"
        helper.layout = Layout(
            Fieldset(
                "Laboratory results",
                Row(Column("sample_date", css_class="col-md-6"), Column("lab_profile", css_class="col-md-6")),
                Row(Column("b12_value", css_class=pair), Column("b12_unit", css_class=unit)),
            ),
            # The decision's status and regimen right below the B12 field, in view while the rest is filled in.
            HTML('{% include "recommender/_status_strip.html" %}'),
            Fieldset(
                "Other results",
                Row(Column("active_b12_value", css_class=pair), Column("active_b12_unit", css_class=unit)),
                Div(
                    HTML('{% include "recommender/_mma_prompt.html" %}'),
                    Row(Column("mma_value", css_class=pair), Column("mma_unit", css_class=unit)),
                    Field("mma_upper_limit"),
                    css_id="mma-group",
                    css_class="rounded",
                ),
                Row(
                    Column("homocysteine_value", css_class=pair),
                    Column("homocysteine_unit", css_class=unit),
                ),
                Field("egfr"),
            ),
            Fieldset(
                "Clinical picture",
                "neurological_involvement",
                "severe",
                "pregnant",
                "folic_acid",
            ),
            Fieldset("History", "malabsorption", "ileal_resection_cm", "bariatric_surgery"),
        )
        return helper

    def clean_sample_date(self):
        sampled = self.cleaned_data["sample_date"]
        if sampled > timezone.localdate():
            raise forms.ValidationError("The sample date cannot be in the future.")
        return sampled

    def contract_payload(self) -> dict:
        """The request in the API contract's shape, from what was entered (a blank value is not sent)."""
        data = self.cleaned_data
        payload: dict = {}
        for spec in MEASUREMENTS.values():
            value = data.get(f"{spec.field}_value")
            limit = data.get(f"{spec.field}_upper_limit") if spec.limit_plausible else None
            if value is None and limit is None:
                continue
            item: dict = {"value": value, "unit": data.get(f"{spec.field}_unit") or None}
            if limit is not None:
                item["upper_limit"] = limit
            payload[spec.field] = item
        for field in NUMBERS:
            if data.get(field) is not None:
                payload[field] = data[field]
        for field in FLAGS:
            payload[field] = bool(data.get(field))
        return payload

    def clean(self):
        """The engine validates the inputs (its ranges, units and messages); the decision is made only when the
        whole form is valid."""
        cleaned = super().clean()
        payload = self.contract_payload()
        try:
            assessment = parse_assessment(payload)
        except InvalidAssessment as invalid:
            for field, messages in invalid.errors.items():
                target = ERROR_FIELDS.get(field, field if field in self.fields else None)
                if target in self.errors:
                    continue  # the field's own error (not a number) already says what is wrong
                if field == "b12" and "b12" not in payload and {"b12_value", "active_b12_value"} & set(self.errors):
                    continue  # a result was typed but is not a number: it is not missing
                for message in messages:
                    self.add_error(target, message)
            return cleaned
        if not self.errors:
            self.payload = payload
            self.recommendation = decide(assessment, thresholds=thresholds_for(cleaned.get("lab_profile")))
        return cleaned


def plan_months(recommendation: Recommendation | None) -> list[int]:
    """Every maintenance interval in months the plan's choices list (the ruleset's, whatever the decision)."""
    ruleset = recommendation.ruleset if recommendation else DEFAULT_RULESET
    return maintenance_month_choices(1, ruleset.individualised_max_months)


class PlanForm(PlainTextForm):
    """The clinician's choices within what the recommendation allows.

    The choices are drawn once and never redrawn by the live panel, so they list every interval the ruleset can
    recommend; whether the current decision allows the one chosen is checked when saving, with an error on it.
    """

    create_plan = forms.BooleanField(label="Start a treatment plan with this assessment", required=False)
    maintenance_choice = forms.ChoiceField(label="Maintenance interval", widget=forms.RadioSelect, required=False)
    individualised_every = forms.IntegerField(label="Every", required=False, min_value=1)
    individualised_unit = forms.ChoiceField(
        label="Unit",
        required=False,
        choices=[("", "…"), (DAYS, "days"), (WEEKS, "weeks"), (MONTHS, "months")],
    )
    individualised_reason = forms.CharField(
        label="Reason for an individualised regimen",
        required=False,
        max_length=REASON_MAX_LENGTH,
        help_text=f"Up to {REASON_MAX_LENGTH} characters.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    pending_mma_reason = forms.CharField(
        label="Why start loading before the MMA result",
        required=False,
        max_length=REASON_MAX_LENGTH,
        help_text=f"Up to {REASON_MAX_LENGTH} characters.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    start_date = DayMonthYearField(label="First injection on", required=False, help_text="Day/month/year.")
    doses_on_closed_days = forms.BooleanField(
        label="Injections may be given on closed days (weekends, bank holidays, clinic closures)",
        required=False,
        help_text="For a district nurse or a weekend session. Unticked: a dose due on a closed day moves to the next "
        "open day, and the plan says so.",
    )
    confirm_supersede = forms.BooleanField(required=False)

    def __init__(
        self, *args, recommendation: Recommendation | None = None, active_plan: TreatmentPlan | None = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.recommendation = recommendation
        self.active_plan = active_plan
        self.months = plan_months(recommendation)
        choices = [(str(m), "every month" if m == 1 else f"every {m} months") for m in self.months]
        choices.append(("individualised", "individualised, with a reason"))
        self.fields["maintenance_choice"].choices = choices
        self.fields["start_date"].initial = timezone.localdate
        self.fields["create_plan"].initial = True
        self.fields["doses_on_closed_days"].initial = settings.B12_DOSES_ON_CLOSED_DAYS
        if active_plan is not None:
            self.fields[
                "confirm_supersede"
            ].label = f"I am replacing the active plan of {active_plan.start_date:%d/%m/%Y}"
        else:
            del self.fields["confirm_supersede"]

    @property
    def pending_mma(self):
        """The loading the decision allows now, before the MMA result (neurological signs, indeterminate B12)."""
        rec = self.recommendation
        return rec.pending_mma if rec is not None and not rec.im_recommended else None

    @property
    def maintenance(self):
        """The maintenance interval the guideline gives for this decision (or for treatment pending MMA)."""
        if self.recommendation is None:
            return None
        if self.recommendation.im_recommended:
            return self.recommendation.maintenance
        pending = self.pending_mma
        return pending.maintenance if pending is not None else None

    @property
    def wanted(self) -> bool:
        """A plan is to be started: asked for, and the decision allows one."""
        return bool(self.is_bound and self.data.get("create_plan") and self.maintenance is not None)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("create_plan") or self.maintenance is None:
            return cleaned
        maintenance = self.maintenance
        allowed = maintenance_month_choices(maintenance.min_months, maintenance.max_months)
        choice = cleaned.get("maintenance_choice")
        if not choice:
            self.add_error("maintenance_choice", "Choose the maintenance interval.")
        elif choice == "individualised":
            errors = individualised_interval_error(
                cleaned.get("individualised_every"),
                cleaned.get("individualised_unit") or None,
                cleaned.get("individualised_reason", ""),
                maintenance.max_months,
            )
            for field, message in errors.items():
                self.add_error(field, message)
        elif int(choice) not in allowed:
            self.add_error(
                "maintenance_choice",
                f"Every {choice} months is outside this decision's range ({_months_words(allowed)}): "
                "the decision changed after you chose. Choose again.",
            )
        if cleaned.get("start_date") is None and "start_date" not in self.errors:
            self.add_error("start_date", "Enter the date of the first injection.")
        if self.pending_mma is not None and not cleaned.get("pending_mma_reason", "").strip():
            self.add_error("pending_mma_reason", "Give the reason for starting treatment before the MMA result.")
        if self.active_plan is not None and not cleaned.get("confirm_supersede"):
            self.add_error(
                "confirm_supersede",
                f"This patient has an active plan (started {self.active_plan.start_date:%d/%m/%Y}): "
                "confirm that the new plan replaces it.",
            )
        return cleaned

    def plan_options(self) -> dict:
        """The keyword arguments of services.plan_create chosen here, from a valid form."""
        data = self.cleaned_data
        options: dict = {
            "start_date": data["start_date"],
            "confirm_supersede": bool(data.get("confirm_supersede")),
            "doses_on_closed_days": bool(data.get("doses_on_closed_days")),
        }
        if self.pending_mma is not None:
            options["pending_mma_reason"] = data["pending_mma_reason"].strip()
        if data["maintenance_choice"] == "individualised":
            return {
                **options,
                "maintenance_every": data["individualised_every"],
                "maintenance_unit": data["individualised_unit"],
                "individualised": True,
                "individualised_reason": data["individualised_reason"].strip(),
            }
        return {**options, "maintenance_every": int(data["maintenance_choice"]), "maintenance_unit": MONTHS}


def _reason_field(label: str, missing: str) -> forms.CharField:
    """A required free-text reason whose limit is shown beside it (and a too-long one is not called missing)."""
    return forms.CharField(
        label=label,
        max_length=REASON_MAX_LENGTH,
        help_text=f"Up to {REASON_MAX_LENGTH} characters.",
        error_messages={"required": missing},
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )


def _months_words(months: list[int]) -> str:
    if len(months) == 1:
        return "every month" if months[0] == 1 else f"every {months[0]} months"
    return f"every {months[0]} to {months[-1]} months"


class _PlanActionForm(PlainTextForm):
    """A clinician's action on a plan page: field ids carry the form's own prefix, as several forms share the page."""

    id_prefix = "action"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)

    def service_arguments(self) -> dict:
        """The service's keyword arguments: what was entered, without the confirmation box."""
        return {name: value for name, value in self.cleaned_data.items() if name != "confirm"}


class PlanEndForm(_PlanActionForm):
    id_prefix = "end"
    reason = _reason_field("Why is the plan ending?", "Give the reason the plan ends.")
    confirm = forms.BooleanField(
        label="I confirm this plan ends: no further doses or reviews will be due.",
        error_messages={"required": "Tick the box to confirm that the plan ends."},
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


class MarkStableForm(_PlanActionForm):
    """No date is filled in: the clinician enters the day the patient was judged stable."""

    id_prefix = "stable"
    on = DayMonthYearField(
        label="Patient stable since",
        help_text="Day/month/year. Not in the future, and not before the loading course ended.",
        error_messages={"required": "Enter the date the patient was judged stable."},
    )
    reason = _reason_field("Why is the patient judged stable?", "Give the reason the patient is judged stable.")
    confirm = forms.BooleanField(
        label=(
            "I confirm the patient is stable: follow-up reviews become "
            f"{RULESET_WORDS.monitoring_after_stable} instead of {RULESET_WORDS.monitoring_until_stable}."
        ),
        error_messages={"required": "Tick the box to confirm that the patient is stable."},
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


class DateForm(PlainTextForm):
    on = DayMonthYearField(label="Date", help_text="Day/month/year.")


class IntervalChangeForm(PlainTextForm):
    every = forms.IntegerField(label="Every", min_value=1)
    unit = forms.ChoiceField(label="Unit", choices=[(DAYS, "days"), (WEEKS, "weeks"), (MONTHS, "months")])
    reason = forms.CharField(
        label="Reason for the change",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=REASON_MAX_LENGTH,
        help_text=length_hint(REASON_MAX_LENGTH),
    )
