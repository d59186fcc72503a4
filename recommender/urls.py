from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import api, views
from .appointments import views as appointment_views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/new/", views.patient_create, name="patient-create"),
    path("patients/<uuid:patient_id>/", views.patient_detail, name="patient-detail"),
    path("patients/<uuid:patient_id>/edit/", views.patient_edit, name="patient-edit"),
    path("patients/<uuid:patient_id>/assess/", views.assessment_create, name="assessment-create"),
    path("patients/<uuid:patient_id>/assess/preview/", views.assessment_preview, name="assessment-preview"),
    path("assessments/<uuid:assessment_id>/", views.assessment_detail, name="assessment-detail"),
    path("plans/<uuid:plan_id>/", views.plan_detail, name="plan-detail"),
    path("plans/<uuid:plan_id>/end/", views.plan_end, name="plan-end"),
    path("plans/<uuid:plan_id>/end-loading/", views.plan_end_loading, name="plan-end-loading"),
    path("plans/<uuid:plan_id>/stable/", views.plan_mark_stable, name="plan-stable"),
    path("plans/<uuid:plan_id>/interval/", views.plan_change_interval, name="plan-interval"),
    path("plans/<uuid:plan_id>/calendar/", views.plan_month, name="plan-month"),
    # The plan's calendar shows booked appointments at their time: served by the booking room.
    path("plans/<uuid:plan_id>/calendar.ics", appointment_views.plan_ics, name="plan-ics"),
    path("plans/<uuid:plan_id>/doses/record/", views.dose_record, name="dose-record"),
    path("doses/<uuid:dose_id>/entered-in-error/", views.dose_entered_in_error, name="dose-error"),
    path("doses/<uuid:dose_id>/correct/", views.dose_correct, name="dose-correct"),
    path("worklist/", views.worklist, name="worklist"),
    path("appointments/", include("recommender.appointments.urls")),
    path("account/calendar-feed/", views.calendar_feed_settings, name="calendar-feed"),
    path("feeds/worklist/<str:token>.ics", views.worklist_feed, name="worklist-feed"),
    path("api/v1/recommendation", api.recommendation, name="api-recommendation"),
    path("api/v1/openapi.json", api.openapi, name="api-openapi"),
]
