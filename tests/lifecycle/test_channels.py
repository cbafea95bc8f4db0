"""Each update channel picks its target: in plain Python, over real git refs, and by the script."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from apps.lifecycle.channels import Refs, Target, moves_forward, parse_tag, target_for
from apps.lifecycle.repository import repo_refs
from tests.lifecycle.conftest import Node, make_node, stop_node
from tests.lifecycle.releases import Releases

TAGS = {
    "v0.1.0": "c010",
    "v0.2.0": "c020",
    "v0.10.0-rc.1": "c0100rc1",
    "v0.9.1": "c091",
    "v0.10.0-rc.2": "c0100rc2",
    "v0.10.0-beta.11": "c0100b11",
    "v0.10.0-beta.2": "c0100b2",
    "nightly": "cn",
    "v1.0": "cv10",
    "v01.2.3": "bad-leading-zero",
}


def test_it_orders_versions_as_semver_does() -> None:
    ordered = [
        "v0.9.1",
        "v0.10.0-beta.2",
        "v0.10.0-beta.11",
        "v0.10.0-rc.1",
        "v0.10.0-rc.2",
        "v0.10.0",
        "v1.0.0-alpha",
        "v1.0.0-alpha.1",
        "v1.0.0-alpha.beta",
        "v1.0.0",
    ]
    keys = [parse_tag(name).key() for name in ordered]  # type: ignore[union-attr]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("name", ["nightly", "v1.0", "v01.2.3", "1.2.3", "v1.2.3-", "v1.2.3-01"])
def test_it_ignores_tags_that_are_not_versions(name: str) -> None:
    assert parse_tag(name) is None


def test_stable_picks_the_newest_release_and_no_pre_release() -> None:
    assert target_for("stable", Refs(tags=TAGS, main="cmain")) == Target("v0.9.1", "c091")


def test_latest_picks_the_newest_tag_pre_releases_included() -> None:
    assert target_for("latest", Refs(tags=TAGS, main="cmain")) == Target("v0.10.0-rc.2", "c0100rc2")
    with_release = {**TAGS, "v0.10.0": "c0100"}
    assert target_for("latest", Refs(tags=with_release)) == Target("v0.10.0", "c0100")


def test_unstable_picks_the_head_of_main_and_fixed_picks_nothing() -> None:
    refs = Refs(tags=TAGS, main="cmain", main_name="origin/main")
    assert target_for("unstable", refs) == Target("origin/main", "cmain")
    assert target_for("fixed", refs) is None
    assert target_for("stable", Refs(tags={"nightly": "x"})) is None
    assert target_for("unstable", Refs(tags=TAGS)) is None


def test_a_channel_never_moves_a_node_to_an_older_version() -> None:
    assert not moves_forward(Target("v0.2.1", "c"), node_tags=["v0.1.0", "v0.3.0-rc.1", "x"])
    assert not moves_forward(Target("v0.3.0-rc.1", "c"), node_tags=["v0.3.0-rc.1"])
    assert moves_forward(Target("v0.3.0", "c"), node_tags=["v0.3.0-rc.1", "nightly"])
    assert moves_forward(Target("v0.1.0", "c"), node_tags=["nightly"])
    assert moves_forward(Target("origin/main", "c"), node_tags=["v9.0.0"])


def test_it_refuses_an_unknown_channel() -> None:
    with pytest.raises(ValueError, match="unknown channel 'weekly'"):
        target_for("weekly", Refs())


def test_the_channels_pick_their_targets_among_real_git_refs(
    node: Node, releases: Releases
) -> None:
    refs = repo_refs(root=node.root)
    commits = releases.commits
    # The annotated pre-release tag is peeled to its commit.
    assert refs.tags["v0.3.0-rc.1"] == commits["v0.3.0-rc.1"]
    assert target_for("stable", refs) == Target("v0.2.1", commits["v0.2.1"])
    assert target_for("latest", refs) == Target("v0.3.0-rc.1", commits["v0.3.0-rc.1"])
    assert target_for("unstable", refs) == Target("origin/main", commits["main"])
    assert target_for("fixed", refs) is None


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="upgrade.sh targets Linux")
def test_the_script_check_says_what_each_channel_would_do(node: Node, releases: Releases) -> None:
    expected = {
        "stable": (0, "upgrade available: v0.1.0 → v0.2.1"),
        "latest": (0, "upgrade available: v0.1.0 → v0.3.0-rc.1"),
        "unstable": (0, "upgrade available: v0.1.0 → v0.3.0-rc.1-1-g"),
        "fixed": (1, "the fixed channel never upgrades by itself (use --to REF)"),
    }
    for channel, (status, line) in expected.items():
        checked = node.run("upgrade.sh", "--check", "--channel", channel)
        assert checked.returncode == status, (channel, checked.stdout, checked.stderr)
        assert checked.stdout.strip().splitlines()[-1].startswith(line), (channel, checked.stdout)
    to = node.run("upgrade.sh", "--check", "--to", "v0.2.0")
    assert (to.returncode, to.stdout.strip()) == (0, "upgrade available: v0.1.0 → v0.2.0")
    unknown = node.run("upgrade.sh", "--check", "--to", "v9.9.9")
    assert unknown.returncode == 2
    assert "--to v9.9.9: no such tag, branch or commit" in unknown.stderr
    # --check changed nothing, and wrote no history.
    assert node.head() == releases.commits["v0.1.0"]
    assert not (node.data_dir / "backups").exists() or not any(
        (node.data_dir / "backups").iterdir()
    )


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="upgrade.sh targets Linux")
def test_the_script_uses_the_nodes_channel_and_never_moves_it_back(
    releases: Releases, tmp_path: Path
) -> None:
    node = make_node(releases, tmp_path, "main")  # on main's head, past every tag
    try:
        assert node.manage("migrate", "--noinput", "-v0").returncode == 0
        assert node.manage("lifecycle", "channel").stdout.strip() == "fixed"
        assert node.manage("lifecycle", "channel", "--set", "stable").returncode == 0
        stable = node.run("upgrade.sh", "--check")
        assert stable.returncode == 1, stable.stdout + stable.stderr
        assert stable.stdout.strip().startswith("this node (v0.3.0-rc.1-1-g")
        assert stable.stdout.strip().endswith("is not older than v0.2.1")
        unstable = node.run("upgrade.sh", "--check", "--channel", "unstable")
        assert unstable.returncode == 1
        assert unstable.stdout.strip().startswith("already on v0.3.0-rc.1-1-g")
    finally:
        stop_node(node)
