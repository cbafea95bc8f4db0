"""The process's database threads: where the connections' blocking (database) work runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings

from apps.core.batch import GroupCommitExecutor

T = TypeVar("T")

_executor: GroupCommitExecutor | None = None


def db_executor() -> GroupCommitExecutor:
    """The process's database threads (OCPP_DB_THREADS; group commit, see apps/core/batch)."""
    global _executor
    if _executor is None:
        _executor = GroupCommitExecutor(threads=settings.OCPP_DB_THREADS)
    return _executor


async def run_sync(func: Callable[..., T], *args: Any) -> T:
    """Run blocking (database) work in the database threads; done once it is committed."""
    return await db_executor().run(func, *args)
