"""Writes of the lifecycle app: the update channel and its beat job, the upgrade history,
the plan of an upgrade and the delegated run of upgrade.sh (docs/lifecycle.md)."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from apps.core.timeutil import utcnow
from apps.lifecycle import delegation, repository, schedules
from apps.lifecycle.channels import FIXED, Target, moves_forward, target_for
from apps.lifecycle.models import Channel, UpdatePolicy, Upgrade

logger = logging.getLogger(__name__)


def _root() -> Path:
    return Path(settings.BASE_DIR)


# --- The channel and its beat job --------------------------------------------------------------


def policy_ensure(*, using: str = "default") -> UpdatePolicy:
    """Create the policy row from UPDATE_CHANNEL (and its beat job) unless it exists."""
    policy = UpdatePolicy.objects.using(using).filter(pk=1).first()
    if policy is not None:
        return policy
    channel = getattr(settings, "UPDATE_CHANNEL", Channel.FIXED)
    if channel not in Channel.values:
        channel = Channel.FIXED
    return channel_set(channel=channel, by="UPDATE_CHANNEL", using=using)


def channel_set(*, channel: str, by: str = "", using: str = "default") -> UpdatePolicy:
    """Put this node on `channel` and make its beat job match (none for fixed)."""
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}; known: {', '.join(Channel.values)}")
    with transaction.atomic(using=using):
        policy, _created = UpdatePolicy.objects.using(using).update_or_create(
            pk=1, defaults={"channel": channel, "changed_by": by}
        )
        _schedule_apply(channel=channel, using=using)
    return policy


def _schedule_apply(*, channel: str, using: str) -> None:
    fields = schedules.crontab_for(channel)
    tasks = PeriodicTask.objects.using(using)
    if fields is None:
        # Fixed: no automatic check at all (deleting, not disabling: nothing to re-enable by
        # mistake in the admin).
        for task in tasks.filter(name=schedules.CHECK_TASK_NAME):
            task.delete(using=using)
        return
    crontab, _created = CrontabSchedule.objects.using(using).get_or_create(
        **fields, timezone=settings.TIME_ZONE
    )
    task = tasks.filter(name=schedules.CHECK_TASK_NAME).first()
    description = f"Update channel {channel}: upgrade.sh --check, then a delegated upgrade."
    if task is None:
        task = PeriodicTask(name=schedules.CHECK_TASK_NAME)
    task.task = schedules.CHECK_TASK
    task.crontab = crontab
    task.interval = None
    task.enabled = True
    task.description = description
    task.save(using=using)


# --- The history -------------------------------------------------------------------------------


def upgrade_begin(
    *,
    channel: str,
    started_by: str = "",
    from_version: str = "",
    from_commit: str = "",
    to_ref: str = "",
    to_version: str = "",
    to_commit: str = "",
) -> Upgrade:
    """Record an upgrade attempt as running (written before the backup, so it survives it)."""
    return Upgrade.objects.create(
        channel=channel,
        started_by=started_by[:40],
        from_version=from_version[:100],
        from_commit=from_commit[:40],
        to_ref=to_ref[:200],
        to_version=to_version[:100],
        to_commit=to_commit[:40],
        started_at=utcnow(),
    )


def upgrade_finish(
    *, upgrade_id: int | None, result: str, detail: str = "", log: str = "", **begun: str
) -> Upgrade:
    """Record how an attempt ended, with its log; `begun` re-creates a row the rollback lost."""
    if result not in Upgrade.Result.values or result == Upgrade.Result.RUNNING:
        raise ValueError(f"not a final result: {result!r}")
    upgrade = Upgrade.objects.filter(pk=upgrade_id).first() if upgrade_id else None
    if upgrade is None:
        upgrade = upgrade_begin(**{"channel": begun.pop("channel", "") or FIXED, **begun})
    upgrade.result = result
    upgrade.detail = detail[:300]
    upgrade.log = log
    upgrade.finished_at = utcnow()
    upgrade.save(update_fields=["result", "detail", "log", "finished_at"])
    return upgrade


# --- The plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What upgrade.sh would do: the channel, where the node is, where it would go, and why."""

    channel: str
    current_commit: str
    current_version: str
    target: Target | None
    target_version: str
    available: bool
    reason: str


def upgrade_plan(
    *, channel: str, to: str = "", remote: str = "origin", branch: str = "main"
) -> Plan:
    """Pick the target of `channel` (or the ref `to`) among the fetched refs and compare it."""
    root = _root()
    head = repository.repo_head(root=root)
    current_version = repository.repo_describe(root=root, commit=head)
    if to:
        commit = repository.repo_resolve(root=root, ref=to) or repository.repo_resolve(
            root=root, ref=f"{remote}/{to}"
        )
        if commit is None:
            raise repository.RepositoryError(f"--to {to}: no such tag, branch or commit")
        target: Target | None = Target(to, commit)
    else:
        target = target_for(channel, repository.repo_refs(root=root, remote=remote, branch=branch))
    if target is None:
        reason = (
            "the fixed channel never upgrades by itself (use --to REF)"
            if channel == FIXED
            else f"the {channel} channel has no target (no such tag or branch)"
        )
        return Plan(channel, head, current_version, None, "", False, reason)
    target_version = (
        target.ref
        if repository.repo_resolve(root=root, ref=f"refs/tags/{target.ref}") == target.commit
        else repository.repo_describe(root=root, commit=target.commit)
    )
    if target.commit == head:
        available, reason = False, f"already on {target_version}"
    elif not to and (
        repository.repo_contains(root=root, ancestor=target.commit, commit=head)
        or not moves_forward(target, node_tags=repository.repo_tags_merged(root=root, commit=head))
    ):
        # A channel never moves a node back (say from main's head to the last release);
        # an explicit --to may.
        available = False
        reason = f"this node ({current_version}) is not older than {target_version}"
    else:
        available, reason = True, f"upgrade available: {current_version} → {target_version}"
    return Plan(channel, head, current_version, target, target_version, available, reason)


# --- The delegated run -------------------------------------------------------------------------


def upgrade_launch(*, started_by: str, args: list[str] | None = None) -> delegation.Launch:
    """Start upgrade.sh outside this process (systemd-run, else detached); return at once."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    log = Path(settings.DATA_DIR) / "logs" / f"upgrade-{stamp}.log"
    launched = delegation.launch(
        root=_root(),
        unit=f"constellation-upgrade-{stamp}",
        log=log,
        args=["--by", started_by, *(args or [])],
    )
    logger.info("delegated upgrade started (%s), log: %s", launched.how, launched.log)
    return launched


def upgrade_check_and_launch(*, started_by: str) -> str:
    """Ask `upgrade.sh --check`; when an upgrade is available, start it delegated."""
    try:
        result = subprocess.run(
            [str(_root() / "upgrade.sh"), "--check"],
            cwd=_root(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("upgrade check failed: %s", exc)
        return f"check failed: {exc}"
    line = (result.stdout.strip().splitlines() or [""])[-1]
    if result.returncode == 1:
        return line or "no upgrade"
    if result.returncode != 0:
        logger.warning(
            "upgrade check failed (exit %s): %s", result.returncode, result.stderr[-500:]
        )
        return f"check failed (exit {result.returncode})"
    launched = upgrade_launch(started_by=started_by)
    return f"{line}; started ({launched.how}), log {launched.log}"
