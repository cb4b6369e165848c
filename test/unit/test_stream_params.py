"""The streaming outputs' parameters (output.streams, the gripper map, topics.twist / pose_target / gripper):
defaults, resolution and errors that name the parameter and the fix."""

from __future__ import annotations

import dataclasses

import pytest

from adp_ros.core import params as P
from adp_ros.core.errors import ConfigError
from adp_ros.core.platform import get_platform
from adp_ros.core.streaming import GripperMapping


def test_streams_are_off_by_default():
    for values in ({}, P.preset_values("libero"), P.preset_values("aloha")):
        out = P.resolve(values).node.output
        assert out.streams == ()
        assert not out.streams_twist and not out.streams_pose and not out.streams_gripper


def test_libero_streams_resolve():
    values = P.preset_values("libero") | {"output.streams": ["twist", "pose", "gripper"]}
    node = P.resolve(values).node
    out = node.output
    assert out.streams == ("twist", "pose", "gripper")
    assert out.streams_twist and out.streams_pose and out.streams_gripper
    assert out.gripper_type == "joint_trajectory"
    assert out.gripper_joints == ("panda_finger_joint1", "panda_finger_joint2")  # empty = proprio.joint_names
    assert out.gripper == GripperMapping(1.0, 0.0, 0.04, 0.0)  # LIBERO checkpoints: 1 open, 0 closed
    assert (node.topics.twist, node.topics.pose_target, node.topics.gripper) == (
        "~/twist",
        "~/pose_target",
        "~/gripper",
    )


def test_gripper_settings_resolve():
    values = P.preset_values("libero") | {
        "output.streams": ["gripper"],
        "output.gripper_type": "float64",
        "output.gripper_joints": ["finger"],
        "output.gripper_open_value": 0.0,
        "output.gripper_closed_value": 1.0,
        "output.gripper_open_position": 0.0,
        "output.gripper_closed_position": 0.8,
    }
    out = P.resolve(values).node.output
    assert out.gripper_type == "float64" and out.gripper_joints == ("finger",)
    assert out.gripper.position(0.5) == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("values", "parts"),
    [
        (
            P.preset_values("aloha") | {"output.streams": ["twist"]},
            ["'output.streams'", "end-effector delta policy", "aloha"],
        ),
        (P.preset_values("libero") | {"output.streams": ["twist", "twist"]}, ["'output.streams'", "twice"]),
        (P.preset_values("libero") | {"output.streams": ["wrench"]}, ["'output.streams'", "one of (twist, pose"]),
        (
            P.preset_values("libero") | {"output.streams": ["gripper"], "output.gripper_closed_value": 1.0},
            ["'output.gripper_closed_value'", "output.gripper_open_value", "1 and 0"],
        ),
    ],
)
def test_stream_errors_name_the_parameter_and_fix(values, parts):
    with pytest.raises(ConfigError) as info:
        P.resolve(values)
    for part in parts:
        assert part in str(info.value), str(info.value)


def test_a_joint_trajectory_gripper_needs_joint_names(monkeypatch):
    values = P.preset_values("libero") | {"output.streams": ["gripper"]}
    # A delta policy whose proprio is the pose alone (no joints to fall back on): LIBERO with proprio_dim 6.
    pose_only = dataclasses.replace(get_platform("libero"), proprio_dim=6)
    monkeypatch.setattr("adp_ros.core.params.resolution.get_platform", lambda name: pose_only)
    values["proprio.joint_names"] = []
    with pytest.raises(ConfigError) as info:
        P.resolve(values)
    assert "'output.gripper_joints'" in str(info.value) and "finger joint" in str(info.value)
    values["output.gripper_type"] = "float64"
    assert P.resolve(values).node.output.gripper_joints == ()


def test_gripper_mapping_parameters_are_live_and_streams_are_not():
    assert P.get_spec("output.gripper_open_position").live
    assert P.get_spec("output.gripper_closed_value").live
    assert P.non_live_changes(["output.streams", "output.gripper_type", "output.gripper_joints"]) == [
        "output.gripper_joints",
        "output.gripper_type",
        "output.streams",
    ]
    assert P.non_live_changes(["topics.twist", "topics.pose_target", "topics.gripper"]) == [
        "topics.gripper",
        "topics.pose_target",
        "topics.twist",
    ]
