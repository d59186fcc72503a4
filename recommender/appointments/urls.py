from django.urls import path

from . import views

urlpatterns = [
    path("sessions/", views.sessions, name="appointment-sessions"),
    path("sessions/<str:on>/<str:key>/", views.day_list, name="appointment-day-list"),
    path("plans/<uuid:plan_id>/", views.plan_bookings, name="appointment-plan"),
    path("plans/<uuid:plan_id>/book/", views.book, name="appointment-book"),
    path("plans/<uuid:plan_id>/card/", views.card, name="appointment-card"),
    path("<uuid:appointment_id>/move/", views.move, name="appointment-move"),
    path("<uuid:appointment_id>/cancel/", views.cancel, name="appointment-cancel"),
    path("<uuid:appointment_id>/did-not-attend/", views.did_not_attend, name="appointment-dna"),
    path("<uuid:appointment_id>/attended/", views.attended, name="appointment-attended"),
]
