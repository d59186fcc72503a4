from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.views import redirect_to_login
from django_htmx.http import HttpResponseClientRedirect


class LoginRequiredMiddleware(auth_middleware.LoginRequiredMiddleware):
    """Deny by default. An htmx request from an expired session sends the whole page to the login form rather
    than swapping the login form into a panel."""

    def handle_no_permission(self, request, view_func):
        if getattr(request, "htmx", False):
            target = request.htmx.current_url_abs_path or request.get_full_path()
            return HttpResponseClientRedirect(redirect_to_login(target, self.get_login_url(view_func)).url)
        return super().handle_no_permission(request, view_func)
