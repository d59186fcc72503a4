"""Crispy forms rendered once: an unbound form whose HTML depends only on what it names in a key.

Crispy stays the layout library (issue 14: "make it cheap"). Rendering a form walks every field through the
template pack, most of a form page's time, yet an unbound form with nothing pre-filled is the same HTML for
everyone until something it shows changes: the day, the choices offered. A form opts in with
``unbound_layout_key(context)``, returning everything its unbound HTML depends on beyond its class (or None to
render afresh); a bound form (what was typed, and its errors) is always rendered afresh and never kept. The
template tag ``{% crispy_once form %}`` (templatetags/crispy_once.py) uses it."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from threading import Lock

from django.utils import translation
from django.utils.safestring import SafeString

MAX_FORMS = 256

_forms: OrderedDict = OrderedDict()
_lock = Lock()


def unbound_form_key(form, context) -> tuple | None:
    """The key of an unbound form's HTML, or None when it must be rendered afresh."""
    keyed = getattr(form, "unbound_layout_key", None)
    if keyed is None or form.is_bound:
        return None
    key = keyed(context)
    if key is None:
        return None
    return (type(form).__module__, type(form).__qualname__, translation.get_language(), key)


def rendered_once(key: tuple, render: Callable[[], SafeString]) -> SafeString:
    """``render()``, kept under ``key`` (the most recent MAX_FORMS keys)."""
    with _lock:
        html = _forms.get(key)
        if html is not None:
            _forms.move_to_end(key)
            return html
    html = render()
    with _lock:
        _forms[key] = html
        if len(_forms) > MAX_FORMS:
            _forms.popitem(last=False)
    return html
