"""The server process's garbage collector, set for many long-lived connections.

Every charger connection holds a few hundred long-lived objects. CPython's default
collector (thresholds 700, 10, 10) walks the whole heap again each time the long-lived
objects have grown by a quarter, so 10,000 chargers (re)connecting at once cost some 25
full collections of 0.3-0.5 s each: in a measured storm, more server time than the
connections themselves. Here the objects of start-up (Django, the apps, the schemas) are
frozen out of every collection, and the young generation is collected after 50,000 net
allocations instead of 700, so the older generations, and full collections, are collected
some seventy times less often. Cyclic garbage is still collected, in fewer, larger rounds;
almost everything on the message path is freed by reference counting anyway.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 10, 10)


def server_gc_tune() -> None:
    """Freeze what start-up built and collect less often; call once the app is loaded."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
