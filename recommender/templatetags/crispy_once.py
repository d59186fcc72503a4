"""Crispy field HTML rendered once per field definition, for unbound forms.

Crispy renders every field through ``bootstrap5/field.html`` and half a dozen nested templates: about 1 ms a field,
most of the assessment page's time. The project's ``templates/bootstrap5/field.html`` (found before the pack's own)
calls ``{% crispy_field_once %}``, which renders the pack's template as before, and remembers the HTML when the
form is unbound: an unbound field's HTML is a function of the field's definition, its initial value, the form's
prefix and id format, and the layout's settings, all of which make up the key. A bound form (a form shown again
with what was typed, and its errors) is always rendered afresh, so no entered value is ever kept.

``{% crispy_once form %}`` goes further for a form that names what its unbound HTML depends on
(``unbound_layout_key``, recommender/web/layouts.py): the whole form's HTML is kept, not field by field."""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock

from crispy_forms.templatetags.crispy_forms_tags import CrispyFormNode, do_uni_form
from django import template
from django.template import Engine
from django.utils import translation
from django.utils.safestring import mark_safe

from recommender.web.layouts import rendered_once, unbound_form_key

register = template.Library()

PACK_TEMPLATE = "bootstrap5/field.html"
MAX_ENTRIES = 2048
# The layout settings the pack's field templates read from the context.
LAYOUT_KEYS = (
    "form_show_errors",
    "form_show_labels",
    "label_class",
    "field_class",
    "wrapper_class",
    "labelclass",
    "flat_attrs",
    "form_class",
    "tag",
    "help_text_inline",
    "error_text_inline",
    "inline_class",
    "bootstrap_checkbox_offsets",
    "use_custom_control",
    "template_pack",
)

_cache: OrderedDict = OrderedDict()
_lock = Lock()
_pack_templates: dict = {}


def _pack_template(own_origin):
    """The template pack's own field template (the one this project's override stands in front of)."""
    found = _pack_templates.get(own_origin.name)
    if found is None:
        found, _ = Engine.get_default().find_template(PACK_TEMPLATE, skip=[own_origin])
        _pack_templates[own_origin.name] = found
    return found


def _frozen(value):
    if isinstance(value, dict):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return repr(value)


def field_key(context) -> tuple | None:
    """Everything the field's HTML depends on, or None when it must be rendered afresh."""
    bound = context.get("field")
    form = getattr(bound, "form", None)
    if form is None or form.is_bound or bound.errors:
        return None
    field = bound.field
    widget = field.widget
    choices = getattr(field, "choices", None)
    return (
        type(form).__module__,
        type(form).__qualname__,
        form.prefix,
        form.auto_id,
        bound.name,
        type(field).__qualname__,
        type(widget).__qualname__,
        _frozen(widget.attrs),
        getattr(widget, "format", None),
        getattr(widget, "input_type", None),
        str(bound.label),
        str(field.help_text),
        field.required,
        field.disabled,
        field.show_hidden_initial,
        _frozen(bound.value()),
        _frozen([(str(value), str(label)) for value, label in choices]) if choices is not None else None,
        field.localize,
        form.use_required_attribute,
        bound.css_classes(),
        translation.get_language(),
        tuple(_frozen(context.get(name)) for name in LAYOUT_KEYS),
    )


@register.simple_tag(takes_context=True)
def crispy_field_once(context):
    pack = _pack_template(context.render_context.template.origin)  # this override, being rendered
    key = field_key(context)
    if key is None:
        return mark_safe(pack.render(context))  # noqa: S308 (the pack's own template output)
    with _lock:
        html = _cache.get(key)
        if html is not None:
            _cache.move_to_end(key)
            return html
    html = mark_safe(pack.render(context))  # noqa: S308 (the pack's own template output)
    with _lock:
        _cache[key] = html
        if len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    return html


class CrispyOnceNode(CrispyFormNode):
    """``{% crispy form %}``, kept whole while the form is unbound and names its key (recommender/web/layouts.py)."""

    def render(self, context):
        key = unbound_form_key(template.Variable(self.form).resolve(context), context)
        if key is None:
            return super().render(context)
        return rendered_once(key, lambda: mark_safe(super(CrispyOnceNode, self).render(context)))  # noqa: S308


@register.tag(name="crispy_once")
def do_crispy_once(parser, token):
    """``{% crispy_once form %}``: the same arguments and HTML as ``{% crispy %}``."""
    node = do_uni_form(parser, token)
    return CrispyOnceNode(node.form, node.helper, template_pack=node.template_pack)
