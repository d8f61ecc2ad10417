"""The original memory record format: reading its variants, writing it back, clear errors."""

from __future__ import annotations

import json

import pytest

from skillrl.distill import Trajectory, read_episodes, write_episodes
from skillrl.distill.memory import MemoryFormatError, read_memories, write_memories
from skillrl.distill.trajectory import TrajectoryError

ORIGINAL_STYLE = [
    {   # the original writer's success record
        "memory_id": "mem_alfworld_0001",
        "contextual_description": "AlfWorld task: put a clean mug in shelf. Solved successfully.",
        "tags": {"environment": "Alfworld", "outcome": "Success", "training_generated": True},
        "content": {
            "task_meta": {"original_goal": "put a clean mug in shelf."},
            "refined_trajectory": {"refined_trajectory": [{"step_index": 0, "action": "go to sinkbasin 1",
                                                           "reasoning": "clean first", "critical_observation": ""}]},
            "strategic_guidelines": {"planning_pattern": "Navigate → Acquire → Place", "mistakes_to_avoid": []},
        },
        "origin_env_id": "training",
    },
    {   # failure: refined_trajectory null, string mistakes, "Failed"
        "contextual_description": "Failed.",
        "tags": {"outcome": "Failed", "data_source": "hotpotqa"},
        "content": {"task_meta": {"original_goal": "who is older?"}, "refined_trajectory": None,
                    "strategic_guidelines": {"planning_pattern": None,
                                             "mistakes_to_avoid": ["Answered without evidence",
                                                                   {"trigger_condition": "two entities",
                                                                    "bad_action": "searched only one"}]}},
    },
    {   # the Search variant: bare list, nested guidelines
        "tags": {"outcome": "Success"},
        "content": {"task_meta": {"original_goal": "capital of France?"},
                    "refined_trajectory": [{"action": "<search>capital of France</search>"}],
                    "strategic_guidelines": {"strategic_guidelines": {"planning_pattern": "search then answer",
                                                                      "mistakes_to_avoid": []}}},
    },
]


def test_reads_every_original_variant(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps(ORIGINAL_STYLE))
    a, b, c = read_memories(p)
    assert a.won and a.refined_trajectory[0].reasoning == "clean first" and a.planning_pattern.startswith("Navigate")
    assert not b.won and b.data_source == "hotpotqa" and b.refined_trajectory == ()
    assert [m.text for m in b.mistakes_to_avoid] == ["Answered without evidence", "When two entities: searched only one"]
    assert c.planning_pattern == "search then answer" and c.refined_trajectory[0].action.startswith("<search>")


def test_round_trip_keeps_unknown_keys_and_the_shape(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps(ORIGINAL_STYLE))
    mems = read_memories(p)
    out = write_memories(tmp_path / "out.json", mems)
    again = read_memories(out)
    assert again == mems
    rec = json.loads(out.read_text())[0]
    assert rec["origin_env_id"] == "training" and rec["tags"]["training_generated"] is True
    assert rec["content"]["strategic_guidelines"]["planning_pattern"] == "Navigate → Acquire → Place"
    assert json.loads(out.read_text())[1]["content"]["strategic_guidelines"]["mistakes_to_avoid"][0] == "Answered without evidence"


@pytest.mark.parametrize("data,where", [
    ('[{"tags": {"outcome": "Success"}, "content": {"task_meta": {}}}]', "[0].content.task_meta.original_goal: missing"),
    ('[{"tags": {"outcome": "Maybe"}, "content": {"task_meta": {"original_goal": "g"}}}]', "[0].tags.outcome: expected"),
    ('[{"content": {}}]', "[0].tags: missing"),
    ('[1, 2', "invalid JSON at line 1"),
])
def test_errors_name_file_and_path(tmp_path, data, where):
    p = tmp_path / "bad.json"
    p.write_text(data)
    with pytest.raises(MemoryFormatError) as err:
        read_memories(p)
    assert str(p) in str(err.value) and where in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(MemoryFormatError, match="file not found"):
        read_memories(tmp_path / "nope.json")


def test_episode_files_in_every_shape(tmp_path):
    import distill_episodes as E

    ep = E.heat_skipped()
    p = tmp_path / "eps.jsonl"
    p.write_text("\n".join([
        json.dumps(ep.to_dict()),                                     # full record
        ep.to_json(),                                                 # summary + transcript
        json.dumps({**ep.summary(), "transcript": ep.transcript()}),  # the trainers' failure summaries
    ]) + "\n")
    full, from_json, from_summary = read_episodes(p)
    assert full.actions == from_json.actions == from_summary.actions
    assert full.episode_id == from_json.episode_id  # same game, same actions -> same id
    assert [s.observation for s in from_json.steps] == [s.observation for s in full.steps]
    assert full.steps[0].thought == "t0"
    write_episodes(tmp_path / "back.jsonl", [full])
    assert read_episodes(tmp_path / "back.jsonl")[0] == full


def test_invalid_transcript_steps_keep_their_validity():
    import distill_episodes as E

    t = Trajectory.from_dict(json.loads(E.invalid().to_json()))
    assert [s.valid for s in t.steps] == [False, True, False]


def test_bad_episode_lines_are_named(tmp_path):
    p = tmp_path / "eps.jsonl"
    p.write_text('{"task": "t", "actions": []}\n{oops\n')
    with pytest.raises(TrajectoryError, match=r"eps.jsonl: line 2: invalid JSON"):
        read_episodes(p)
    p.write_text('{"actions": ["a"]}\n')
    with pytest.raises(TrajectoryError, match=r"line 1: episode record has no 'task'"):
        read_episodes(p)
