from django.contrib.auth import views as auth_views
from django.urls import path

from recommender.access import views as access_views
from recommender.appointments import views as booking_views
from recommender.clinic import views as clinic_views
from recommender.home import views as home_views
from recommender.injections import views as injections_views
from recommender.interop import api
from recommender.interop.cds import views as cds_views
from recommender.interop.fhir import views as fhir_views
from recommender.ops import views as ops_views
from recommender.recall import views as recall_views
from recommender.reminders import views as reminder_views

urlpatterns = [
    path("healthz", ops_views.healthz, name="healthz"),
    path("readyz", ops_views.readyz, name="readyz"),
    path("", home_views.home, name="home"),
    path("search/", home_views.search, name="search"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login/verify/", access_views.two_factor_verify, name="two-factor-verify"),
    path("account/two-factor/", access_views.two_factor_setup, name="two-factor-setup"),
    path("account/session/", access_views.session_keepalive, name="session-keepalive"),
    path("patients/", clinic_views.patient_list, name="patient-list"),
    path("patients/new/", clinic_views.patient_create, name="patient-create"),
    path("patients/<uuid:patient_id>/", clinic_views.patient_detail, name="patient-detail"),
    path("patients/<uuid:patient_id>/edit/", clinic_views.patient_edit, name="patient-edit"),
    path("patients/<uuid:patient_id>/assess/", clinic_views.assessment_create, name="assessment-create"),
    path("patients/<uuid:patient_id>/assess/preview/", clinic_views.assessment_preview, name="assessment-preview"),
    path("assessments/<uuid:assessment_id>/", clinic_views.assessment_detail, name="assessment-detail"),
    path("plans/<uuid:plan_id>/", clinic_views.plan_detail, name="plan-detail"),
    path("plans/<uuid:plan_id>/doses/", injections_views.plan_doses, name="plan-doses"),
    path("plans/<uuid:plan_id>/end/", clinic_views.plan_end, name="plan-end"),
    path("plans/<uuid:plan_id>/end-loading/", clinic_views.plan_end_loading, name="plan-end-loading"),
    path("plans/<uuid:plan_id>/stable/", clinic_views.plan_mark_stable, name="plan-stable"),
    path("plans/<uuid:plan_id>/interval/", clinic_views.plan_change_interval, name="plan-interval"),
    path("plans/<uuid:plan_id>/calendar/", injections_views.plan_month, name="plan-month"),
    # The plan's calendar shows booked appointments at their time: served by the booking room.
    path("plans/<uuid:plan_id>/calendar.ics", booking_views.plan_ics, name="plan-ics"),
    path("plans/<uuid:plan_id>/doses/record/", injections_views.dose_record, name="dose-record"),
    path("doses/<uuid:dose_id>/entered-in-error/", injections_views.dose_entered_in_error, name="dose-error"),
    path("doses/<uuid:dose_id>/correct/", injections_views.dose_correct, name="dose-correct"),
    path("worklist/", injections_views.worklist, name="worklist"),
    path("appointments/sessions/", booking_views.sessions, name="appointment-sessions"),
    path("appointments/sessions/<str:on>/<str:key>/", booking_views.day_list, name="appointment-day-list"),
    path("appointments/plans/<uuid:plan_id>/", booking_views.plan_bookings, name="appointment-plan"),
    path("appointments/plans/<uuid:plan_id>/book/", booking_views.book, name="appointment-book"),
    path("appointments/plans/<uuid:plan_id>/card/", booking_views.card, name="appointment-card"),
    path("appointments/<uuid:appointment_id>/move/", booking_views.move, name="appointment-move"),
    path("appointments/<uuid:appointment_id>/cancel/", booking_views.cancel, name="appointment-cancel"),
    path("appointments/<uuid:appointment_id>/did-not-attend/", booking_views.did_not_attend, name="appointment-dna"),
    path("appointments/<uuid:appointment_id>/attended/", booking_views.attended, name="appointment-attended"),
    path("account/calendar-feed/", access_views.calendar_feed_settings, name="calendar-feed"),
    path("feeds/worklist/<str:token>.ics", injections_views.worklist_feed, name="worklist-feed"),
    path("patients/<uuid:patient_id>/contact/", reminder_views.patient_contact, name="patient-contact"),
    path("patients/<uuid:patient_id>/contact/edit/", reminder_views.patient_contact_edit, name="patient-contact-edit"),
    path("reminders/not-sent/", reminder_views.reminders_failed, name="reminders-failed"),
    # Recall and the clinic dashboard (issue 16).
    path("recall/", recall_views.recall_list, name="recall-list"),
    path("recall/plans/<uuid:plan_id>/did-not-attend/", recall_views.did_not_attend, name="recall-dna"),
    path("recall/patients/<uuid:patient_id>/contact/", recall_views.contact_attempt, name="recall-contact"),
    path("recall/patients/<uuid:patient_id>/letter/", recall_views.recall_letter, name="recall-letter"),
    path("dashboard/", recall_views.dashboard, name="dashboard"),
    path("dashboard/figures.csv", recall_views.dashboard_csv, name="dashboard-csv"),
    path("api/v1/recommendation", api.recommendation, name="api-recommendation"),
    path("api/v1/openapi.json", api.openapi, name="api-openapi"),
    # FHIR R4 (issue 15): export, read by id, and lab results in.
    path("fhir/r4/metadata", fhir_views.metadata, name="fhir-metadata"),
    path("fhir/r4/Patient/<str:patient_id>/$everything", fhir_views.everything, name="fhir-everything"),
    path("fhir/r4/Bundle", fhir_views.bundle_import, name="fhir-bundle"),
    path("fhir/r4/<str:resource_type>/<str:resource_id>", fhir_views.read, name="fhir-read"),
    # CDS Hooks 2.0.1 (no trailing slash: the spec's paths).
    path("cds-services", cds_views.discovery, name="cds-discovery"),
    path("cds-services/<str:service_id>", cds_views.service, name="cds-service"),
    path("cds-services/<str:service_id>/feedback", cds_views.feedback, name="cds-feedback"),
]
