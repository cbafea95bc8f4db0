"""`{% load sigils %}{{ text|sigils }}`: a text with its sigils resolved (docs/sigils.md)."""

from __future__ import annotations

from django import template

from apps.nodes.sigils import resolve

register = template.Library()


@register.filter(name="sigils")
def sigils_filter(text: object) -> str:
    """Return `text` with its sigils resolved; never secrets, and escaped like any value."""
    return resolve("" if text is None else str(text))
