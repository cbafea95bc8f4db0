"""`{% object_changes object as entries %}`: the recorded changes of an object (auditlog)."""

from __future__ import annotations

from django import template
from django.db import models
from django.db.models import QuerySet

from apps.userdata.selectors import object_changes as select_changes

register = template.Library()


@register.simple_tag
def object_changes(obj: models.Model | None) -> QuerySet | list:
    return select_changes(obj) if obj is not None else []
