"""Run jobs as one group-commit batch, as the executor's threads do, in the test's thread."""

from __future__ import annotations

from concurrent.futures import Future

from apps.core.batch import GroupCommitExecutor


def run_batch(executor: GroupCommitExecutor, *jobs) -> list[Future]:
    batch = [(Future(), None, fn, (), {}) for fn in jobs]
    for future, *_ in batch:
        future.set_running_or_notify_cancel()
    executor._run_batch(batch)
    return [future for future, *_ in batch]
