"""Panels that apps above this one add to this node's admin page.

The node page belongs to this app, but what the node runs (hardware services, access point,
card scans) belongs to apps above it, which this app may not import. They register a panel
here instead — a template and a function giving its context — the way the command registry
is filled by the apps that own the data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

logger = logging.getLogger(__name__)

# The panel's context for this request, or None to leave the panel out (e.g. the user may not
# see what it shows).
PanelContext = Callable[[HttpRequest], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Panel:
    name: str
    template: str
    context: PanelContext


_panels: dict[str, Panel] = {}


def panel_register(*, name: str, template: str, context: PanelContext) -> None:
    """Add (or replace, by `name`) a panel of the node page."""
    _panels[name] = Panel(name, template, context)


def panels_render(*, request: HttpRequest) -> list[tuple[str, dict[str, Any]]]:
    """Return (template, context) of each panel `request`'s user may see, in order added."""
    shown: list[tuple[str, dict[str, Any]]] = []
    for panel in _panels.values():
        try:
            context = panel.context(request)
        except Exception:  # one broken panel must not take the node page down with it
            logger.exception("node page: panel %s failed", panel.name)
            continue
        if context is not None:
            shown.append((panel.template, context))
    return shown
