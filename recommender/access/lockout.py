"""django-axes, counting failed sign-ins two ways at once.

Per person at an address (user name and client address together): five wrong passwords or codes for one name from
one address lock that name at that address, so someone elsewhere cannot lock the real user out. Per address
(B12_LOCKOUT_ADDRESS_FAILURES, default 20): many failures from one address, whatever the names, lock the address.
The address limit is higher because a ward's computers share one address behind the hospital's NAT."""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_lockout_parameters
from django.conf import settings
from django.db.models import Sum


class LockoutHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials: dict | None = None) -> int:
        """Failures measured against AXES_FAILURE_LIMIT: the per-address count is scaled down to that limit, so
        each kind of lock has its own threshold under django-axes's one limit."""
        per_person = settings.AXES_FAILURE_LIMIT
        per_address = max(settings.B12_LOCKOUT_ADDRESS_FAILURES, per_person)
        parameters = get_lockout_parameters(request, credentials)
        worst = 0
        for parameter, attempts in zip(parameters, self.get_user_attempts(request, credentials), strict=True):
            count = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            if parameter == "ip_address":
                count = count * per_person // per_address
            worst = max(worst, count)
        return worst

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        """A successful sign-in clears that person's failures at that address only, never the address's count of
        other names (else anyone at the address could clear a lock by signing in themselves)."""
        parameters = get_lockout_parameters(request, credentials)
        count = 0
        for parameter, attempts in zip(parameters, self.filter_user_attempts(request, credentials), strict=True):
            if parameter != "ip_address":
                count += attempts.delete()[0]
        return count
