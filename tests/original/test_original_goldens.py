"""Every golden prompt and projection case of the original SkillRL, reproduced byte for byte."""

from __future__ import annotations

import json

import pytest
from original_helpers import ENVS, ORIGINAL_REPO, all_prompt_params, golden_file, golden_params

from skillrl.agent.cases import CaseRenderer, read_cases


@pytest.fixture(scope="module")
def renderer() -> CaseRenderer:
    return CaseRenderer("original", ORIGINAL_REPO)


def _case(row: dict, tmp_path, kind: str):
    path = tmp_path / "case.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    return read_cases(path, kind)[0]


@pytest.mark.parametrize("row", all_prompt_params())
def test_golden_prompt_matches_byte_for_byte(row, renderer, tmp_path):
    prompt = renderer.render(_case(row, tmp_path, "prompt"))
    if prompt != row["prompt"]:
        at = next((i for i, (a, b) in enumerate(zip(prompt, row["prompt"])) if a != b), min(len(prompt), len(row["prompt"])))
        pytest.fail(f"first difference at char {at}: got {prompt[at - 60:at + 60]!r}, want {row['prompt'][at - 60:at + 60]!r}")


@pytest.mark.parametrize("row", golden_params("projection"))
def test_golden_projection_case(row, renderer, tmp_path):
    action, valid = renderer.project(_case(row, tmp_path, "projection"))
    assert (action, int(valid)) == (row["action"], row["valid"])


@pytest.mark.parametrize("row", all_prompt_params())
def test_recorded_actions_are_the_projection_of_the_model_outputs(row, renderer):
    """The actions in a prompt case's history are what our original projection makes of the
    model outputs: the renderer and the projection agree with the original on every turn."""
    inputs = row["inputs"]
    style = renderer.original(row["env"])
    got = [style.project_action(t, inputs.get("admissible_actions")) for t in inputs["model_outputs"]]
    assert [(p.action, int(p.valid)) for p in got] == list(zip(inputs["actions"], inputs["action_valid"]))


@pytest.mark.parametrize("env", ENVS)
def test_task_extraction_agrees_with_the_recorded_task(env, renderer):
    """The task the original's manager extracts from the reset observation is the recorded one."""
    style = renderer.original(env)
    for row in golden_params(env):
        inputs = row.values[0]["inputs"]
        assert style.extract_task(inputs["observations"][0]) == inputs.get("task", inputs.get("question"))


@pytest.mark.parametrize("name", ENVS + ("projection",))
def test_every_golden_line_is_a_case(name):
    """No golden line is dropped by the reader (the parametrised tests cover them all)."""
    lines = [ln for ln in golden_file(name).read_text(encoding="utf-8").splitlines() if ln.strip()]
    cases = read_cases(golden_file(name), "projection" if name == "projection" else "prompt")
    assert len(cases) == len(lines) > 0
    assert [c.name for c in cases] == [json.loads(ln)["case"] for ln in lines]
