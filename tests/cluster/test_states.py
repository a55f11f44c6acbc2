from __future__ import annotations

import pytest

from cluster.states import (
    STATES,
    TERMINAL_STATES,
    TaskState,
    describe,
    is_success,
    is_terminal,
)

# src/common/protobuf_utils.cpp isTerminalState()
MESOS_TERMINAL = {
    "TASK_FINISHED",
    "TASK_FAILED",
    "TASK_KILLED",
    "TASK_LOST",
    "TASK_ERROR",
    "TASK_DROPPED",
    "TASK_GONE",
    "TASK_GONE_BY_OPERATOR",
}


def test_every_mesos_task_state_has_a_row() -> None:
    assert set(STATES) == set(TaskState)
    assert len(TaskState) == 14


def test_terminal_states_match_mesos() -> None:
    assert {info.name for info in STATES.values() if info.terminal} == MESOS_TERMINAL
    assert TERMINAL_STATES == MESOS_TERMINAL


def test_only_finished_counts_as_success() -> None:
    assert [info.name for info in STATES.values() if info.success] == ["TASK_FINISHED"]
    assert is_success("TASK_FINISHED")
    assert not is_success("TASK_KILLED")


def test_success_implies_terminal() -> None:
    assert all(info.terminal for info in STATES.values() if info.success)


@pytest.mark.parametrize(
    ("state", "badge"),
    [
        ("TASK_RUNNING", "ok"),
        ("TASK_FINISHED", "ok"),
        ("TASK_FAILED", "bad"),
        ("TASK_ERROR", "bad"),
        ("TASK_KILLING", "warn"),
        ("TASK_UNREACHABLE", "warn"),
        ("TASK_STAGING", "info"),
        ("TASK_KILLED", "neutral"),
    ],
)
def test_badges_say_how_worried_to_be(state: str, badge: str) -> None:
    assert describe(state).badge == badge


def test_every_row_has_a_human_label_and_a_known_badge() -> None:
    for info in STATES.values():
        assert info.label and not info.label.startswith("TASK_")
        assert info.badge in ("ok", "warn", "bad", "info", "neutral")


def test_a_state_from_a_newer_master_is_shown_but_not_treated_as_final() -> None:
    info = describe("TASK_HIBERNATING")
    assert (info.terminal, info.success, info.badge, info.label) == (
        False,
        False,
        "neutral",
        "TASK_HIBERNATING",
    )
    assert not is_terminal("TASK_HIBERNATING")


def test_lookup_accepts_the_enum_and_its_wire_name() -> None:
    assert describe(TaskState.LOST) is describe("TASK_LOST")
    assert is_terminal(TaskState.LOST)
