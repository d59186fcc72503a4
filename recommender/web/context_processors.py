"""Template context every page gets: the ruleset's facts in words (``rules.drug_dose``, ``rules.dose`` …), and the
site shell's links and assets."""

from __future__ import annotations

from functools import lru_cache

from django.templatetags.static import static
from django.urls import get_script_prefix, reverse

from recommender.ruleset_words import RULESET_WORDS


def ruleset_words(request) -> dict:
    return {"rules": RULESET_WORDS}


# The site shell's links (every page's header) and assets: the same for every request of a deployment, so reversed
# and looked up once per process and URL prefix rather than by a dozen {% url %} and {% static %} tags a page.
SHELL_ROUTES = (
    "home",
    "patient-list",
    "worklist",
    "reminders-failed",
    "recall-list",
    "dashboard",
    "admin:index",
    "search",
    "logout",
    "login",
    "session-keepalive",
)
SHELL_ASSETS = (
    "favicon.svg",
    "vendor/bootstrap/bootstrap.min.css",
    "css/app.css",
    "css/print.css",
    "js/app.js",
    "js/idle.js",
)


@lru_cache(maxsize=8)
def _shell(prefix: str) -> dict:
    return {
        "links": {name.replace("-", "_").replace(":", "_"): reverse(name) for name in SHELL_ROUTES},
        "assets": {name.rsplit("/", 1)[-1].replace(".", "_").replace("-", "_"): static(name) for name in SHELL_ASSETS},
    }


def site_shell(request) -> dict:
    """``links.patient_list``, ``assets.app_css`` …: the header's URLs and the stylesheets and scripts."""
    return _shell(get_script_prefix())
