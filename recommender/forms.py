"""Forms. The assessment form validates through the engine's own path (parse_assessment), as the API does."""

from __future__ import annotations

from datetime import date

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Div, Field, Fieldset, Layout, Row
from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.functional import cached_property

from .guideline import DEFAULT_RULESET, InvalidAssessment, Recommendation, decide, parse_assessment
from .guideline.plan_options import DAYS, MONTHS, WEEKS, individualised_interval_error, maintenance_month_choices
from .guideline.units import ACTIVE_B12_UNITS, HOMOCYSTEINE_UNITS, MMA_UNITS, TOTAL_B12_UNITS
from .models import DoseRecord, LabProfile, Patient
from .selectors import thresholds_for

# Engine field → the form field its errors belong to.
ERROR_FIELDS = {
    "b12": "b12_value",
    "active_b12": "active_b12_value",
    "mma": "mma_value",
    "homocysteine": "homocysteine_value",
}
MEASUREMENT_UNITS = {
    "b12": TOTAL_B12_UNITS,
    "active_b12": ACTIVE_B12_UNITS,
    "mma": MMA_UNITS,
    "homocysteine": HOMOCYSTEINE_UNITS,
}
FLAG_FIELDS = (
    "neurological_involvement",
    "severe",
    "bariatric_surgery",
    "malabsorption",
    "folic_acid",
    "pregnant",
)


def _unit_choices(units, *, blank: bool) -> list[tuple[str, str]]:
    shown = [(u, u.replace("umol", "µmol")) for u in units]
    return [("", "unit…"), *shown] if blank else shown


def _value_field(label: str, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        max_digits=12,
        decimal_places=4,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = ["hospital_number", "family_name", "given_name", "date_of_birth"]
        widgets = {"date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean_hospital_number(self):
        return self.cleaned_data["hospital_number"].strip().upper()

    def clean_date_of_birth(self):
        born = self.cleaned_data["date_of_birth"]
        if born > timezone.localdate():
            raise forms.ValidationError("The date of birth cannot be in the future.")
        return born


class AssessmentForm(forms.Form):
    sample_date = forms.DateField(
        label="Sample date",
        help_text="When the blood was taken (before any B12 was given).",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    lab_profile = forms.ModelChoiceField(
        queryset=LabProfile.objects.all(),
        required=False,
        label="Lab thresholds",
        empty_label="Seed ruleset (NICE bands)",
        help_text="The lab or assay whose reference bands apply.",
    )
    b12_value = _value_field("Total B12", "Serum cobalamin as reported by the lab.")
    b12_unit = forms.ChoiceField(label="Unit", required=False, choices=_unit_choices(TOTAL_B12_UNITS, blank=True))
    active_b12_value = _value_field("Active B12", "Holotranscobalamin; pmol/L only.")
    active_b12_unit = forms.ChoiceField(
        label="Unit", required=False, choices=_unit_choices(ACTIVE_B12_UNITS, blank=False)
    )
    mma_value = _value_field("Methylmalonic acid (MMA)", "Decides an indeterminate B12 result.")
    mma_unit = forms.ChoiceField(label="Unit", required=False, choices=_unit_choices(MMA_UNITS, blank=True))
    mma_upper_limit = _value_field("Lab's MMA upper limit", "Same unit as the MMA. Blank: the default applies.")
    homocysteine_value = _value_field("Total homocysteine")
    homocysteine_unit = forms.ChoiceField(
        label="Unit", required=False, choices=_unit_choices(HOMOCYSTEINE_UNITS, blank=False)
    )
    egfr = _value_field("eGFR (mL/min/1.73m²)", "Below 60, a raised MMA may be renal.")
    neurological_involvement = forms.BooleanField(
        required=False,
        label="Neurological signs or symptoms attributed to B12 deficiency",
        help_text="Paraesthesia, loss of vibration or position sense, ataxia, cognitive or visual change.",
    )
    severe = forms.BooleanField(required=False, label="Severe deficiency or severe neurological symptoms")
    pregnant = forms.BooleanField(required=False, label="Pregnant or breastfeeding")
    folic_acid = forms.BooleanField(required=False, label="Takes, or is about to start, folic acid")
    malabsorption = forms.BooleanField(
        required=False,
        label="Malabsorptive cause",
        help_text="For example pernicious anaemia or autoimmune gastritis.",
    )
    ileal_resection_cm = _value_field("Distal ileum resected (cm)", "0 if none.")
    bariatric_surgery = forms.BooleanField(required=False, label="After bariatric surgery")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.recommendation: Recommendation | None = None
        self.payload: dict | None = None
        if not self.is_bound:
            self.fields["sample_date"].initial = timezone.localdate
            default_profile = LabProfile.objects.filter(is_default=True).values_list("pk", flat=True).first()
            if default_profile is not None:
                self.fields["lab_profile"].initial = default_profile

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
        """The request in the API contract's shape, from what was entered."""
        data = self.cleaned_data
        payload: dict = {}
        for name in MEASUREMENT_UNITS:
            value = data.get(f"{name}_value")
            unit = data.get(f"{name}_unit")
            if value is None:
                continue
            item: dict = {"value": value, "unit": unit or None}
            if name == "mma" and data.get("mma_upper_limit") is not None:
                item["upper_limit"] = data["mma_upper_limit"]
            payload[name] = item
        if data.get("egfr") is not None:
            payload["egfr"] = data["egfr"]
        if data.get("ileal_resection_cm") is not None:
            payload["ileal_resection_cm"] = data["ileal_resection_cm"]
        for flag in FLAG_FIELDS:
            payload[flag] = bool(data.get(flag))
        return payload

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if cleaned.get("mma_value") is None and cleaned.get("mma_upper_limit") is not None:
            self.add_error("mma_upper_limit", "Enter the MMA result as well as its upper limit.")
            return cleaned
        payload = self.contract_payload()
        try:
            assessment = parse_assessment(payload)
        except InvalidAssessment as invalid:
            for field, messages in invalid.errors.items():
                target = ERROR_FIELDS.get(field, field if field in self.fields else None)
                for message in messages:
                    self.add_error(target, message)
            return cleaned
        self.payload = payload
        self.recommendation = decide(assessment, thresholds=thresholds_for(cleaned.get("lab_profile")))
        return cleaned


class PlanForm(forms.Form):
    """The clinician's choices within what the recommendation allows."""

    maintenance_choice = forms.ChoiceField(label="Maintenance interval", widget=forms.RadioSelect)
    individualised_every = forms.IntegerField(label="Every", required=False, min_value=1)
    individualised_unit = forms.ChoiceField(
        label="Unit",
        required=False,
        choices=[("", "…"), (DAYS, "days"), (WEEKS, "weeks"), (MONTHS, "months")],
    )
    individualised_reason = forms.CharField(
        label="Reason for an individualised regimen", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    start_date = forms.DateField(
        label="First injection on",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[MinValueValidator(date(1900, 1, 1)), MaxValueValidator(date(2999, 12, 31))],  # else overflow
    )

    def __init__(self, *args, recommendation: Recommendation, **kwargs):
        super().__init__(*args, **kwargs)
        self.recommendation = recommendation
        maintenance = recommendation.maintenance
        months = maintenance_month_choices(maintenance.min_months, maintenance.max_months) if maintenance else []
        choices = [(str(m), "every month" if m == 1 else f"every {m} months") for m in months]
        choices.append(("individualised", "individualised (from daily to every 3 months), with a reason"))
        self.fields["maintenance_choice"].choices = choices
        if months:
            self.fields["maintenance_choice"].initial = str(months[0])
        self.fields["start_date"].initial = timezone.localdate

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("maintenance_choice") == "individualised":
            errors = individualised_interval_error(
                cleaned.get("individualised_every"),
                cleaned.get("individualised_unit") or None,
                cleaned.get("individualised_reason", ""),
                self.recommendation.ruleset,
            )
            for field, message in errors.items():
                self.add_error(field, message)
        return cleaned

    def plan_options(self) -> dict:
        """The keyword arguments of services.plan_create chosen here, from a valid form."""
        data = self.cleaned_data
        options = {"start_date": data["start_date"]}
        if data["maintenance_choice"] == "individualised":
            return {
                **options,
                "maintenance_every": data["individualised_every"],
                "maintenance_unit": data["individualised_unit"],
                "individualised": True,
                "individualised_reason": data["individualised_reason"].strip(),
            }
        return {**options, "maintenance_every": int(data["maintenance_choice"]), "maintenance_unit": MONTHS}


class PlanEndForm(forms.Form):
    reason = forms.CharField(label="Why is the plan ending?", widget=forms.Textarea(attrs={"rows": 2}), max_length=500)


class DoseRecordForm(forms.Form):
    outcome = forms.ChoiceField(label="Outcome", choices=DoseRecord.Outcome.choices, widget=forms.RadioSelect)
    given_at = forms.DateTimeField(
        label="Given at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Not in the future.",
    )
    dose_mg = forms.DecimalField(label="Dose (mg)", required=False, max_digits=5, decimal_places=2)
    route = forms.ChoiceField(label="Route", required=False, choices=[("IM", "Intramuscular (IM)")])
    site = forms.ChoiceField(label="Site", required=False, choices=[("", "choose…"), *DoseRecord.Site.choices])
    batch = forms.CharField(label="Batch number", required=False, max_length=40)
    expiry = forms.DateField(
        label="Batch expiry",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="An expired batch is refused.",
    )
    reason = forms.CharField(
        label="Reason (if not given)", required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=500
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outcome"].initial = DoseRecord.Outcome.GIVEN
        self.fields["given_at"].initial = lambda: timezone.localtime().replace(second=0, microsecond=0)
        self.fields["dose_mg"].initial = DEFAULT_RULESET.dose_mg
        self.fields["route"].initial = "IM"
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            "outcome",
            Div(
                Row(Column("given_at", css_class="col-md-6"), Column("site", css_class="col-md-6")),
                Row(Column("dose_mg", css_class="col-6 col-md-3"), Column("route", css_class="col-6 col-md-3")),
                Row(Column("batch", css_class="col-md-6"), Column("expiry", css_class="col-md-6")),
                css_class="given-fields",
            ),
            "reason",
        )


class DateForm(forms.Form):
    on = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 2}), max_length=500)


class IntervalChangeForm(forms.Form):
    every = forms.IntegerField(label="Every", min_value=1)
    unit = forms.ChoiceField(label="Unit", choices=[(DAYS, "days"), (WEEKS, "weeks"), (MONTHS, "months")])
    reason = forms.CharField(label="Reason for the change", widget=forms.Textarea(attrs={"rows": 2}), max_length=500)
