"""Fixtures of the core tests."""

from __future__ import annotations

import pytest

from apps.core.batch import GroupCommitExecutor


@pytest.fixture
def executor():
    pool = GroupCommitExecutor(threads=1)
    yield pool
    pool.shutdown()
