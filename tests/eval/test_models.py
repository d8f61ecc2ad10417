"""Model policies on CPU: ``hf:PATH`` (a saved causal LM) and ``ckpt:DIR`` (a checkpoint as
``skillrl train --local`` writes it: model, tokenizer, the bank at its version, the run's settings)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent_system.environments import PromptContext, get_env_spec
from skillrl.cli import app
from skillrl.eval import PlaySettings, SkillSettings, evaluate
from skillrl.policies import PolicyLoadError, PolicyOptions, load_policy

pytest.importorskip("torch")
pytest.importorskip("transformers")

TOY = get_env_spec("toy")
BANK = {"general_skills": [{"skill_id": "g1", "title": "Read the task", "principle": "Go to the named place first.",
                            "when_to_apply": "always"}],
        "task_specific_skills": {"tool": [{"skill_id": "t1", "title": "Tools", "principle": "Take the tool.",
                                           "when_to_apply": "tool tasks"}]},
        "common_mistakes": [], "metadata": {"version": 7}}


def _tiny(tmp_path):
    from skillrl.trainer.local.tiny import build_tiny_model, build_word_tokenizer

    env = TOY.make()
    texts = []
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        texts.append(TOY.build_prompt(PromptContext(task=info.task, observation=obs,
                                                    admissible_actions=tuple(env.admissible_actions()))))
    tok = build_word_tokenizer(texts + ["<action> go to take </action> Read the task Go named place first"])
    model = build_tiny_model(len(tok), pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    return model, tok


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("hf")
    model, tok = _tiny(path)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _checkpoint(root, config, **state):
    from skillrl.skills.bank import SkillBank
    from skillrl.trainer.local.checkpoint import save_checkpoint

    model, tok = _tiny(root)
    bank = SkillBank.from_dict(BANK)
    return save_checkpoint(root / "checkpoints" / "global_step_3", model=model, tokenizer=tok, bank=bank,
                           state={"global_step": 3, "config": config, **state})


def test_hf_policy_plays_batched_with_its_own_tokenizer(hf_dir, tmp_path):
    policy = load_policy(TOY, f"hf:{hf_dir}", PolicyOptions(max_new_tokens=6, device="cpu"))
    assert policy.kind == "hf" and policy.concurrency == 64 and policy.tokenizer_name.endswith(f" of {hf_dir}")
    result = evaluate(TOY, policy, PlaySettings(games=6, concurrency=6, progress=False), SkillSettings(),
                      output=tmp_path / "hf.json")
    s = result["summary"]
    assert s["episodes"] == 6 and s["errors"] == 0 and s["mean_turns"] >= 1
    assert s["tokenizer"] == f"the policy's tokenizer ({policy.tokenizer_name})"
    stats = result["run"]["policy_stats"]
    assert 1 <= stats["generate_calls"] < sum(e["turns"] for e in result["episodes"])  # turns were batched
    rec = json.loads((tmp_path / "hf.episodes.jsonl").read_text().splitlines()[0])
    assert rec["prompt_tokens"][0] == policy.count_tokens(TOY.build_prompt(PromptContext(
        task=rec["task"], observation="You are in the hall. You can go to the kitchen, the garden, the office, the garage.",
        admissible_actions=("go to kitchen", "go to garden", "go to office", "go to garage"))))


@pytest.mark.parametrize("shape", ["flat", "nested"])
def test_checkpoint_brings_its_bank_and_settings(tmp_path, shape):
    settings = {"max_new_tokens": 5, "max_steps": 1, "history_length": 1, "retrieval_mode": "template", "top_k": 1}
    if shape == "flat":  # the config as LocalTrainConfig wrote it before the env section
        config = {"env_name": "toy", **settings}
    else:  # env section with skills_only_memory (the Hydra-shaped config)
        config = {"max_new_tokens": 5, "env": {"env_name": "toy", "max_steps": 1, "history_length": 1,
                                               "skills_only_memory": {"retrieval_mode": "template", "top_k": 1}}}
    _checkpoint(tmp_path, config)
    policy = load_policy(TOY, f"ckpt:{tmp_path}", PolicyOptions(device="cpu"))
    assert policy.bank_path == str(tmp_path / "checkpoints" / "global_step_3" / "skill_bank.json")
    assert policy.episode == {"max_steps": 1, "history_length": 1} and policy.skills == {"retrieval_mode": "template", "top_k": 1}
    assert policy.describe["max_new_tokens"] == 5 and policy.describe["global_step"] == 3
    result = evaluate(TOY, policy, PlaySettings(games=4, progress=False),
                      SkillSettings(bank_path=policy.bank_path, top_k=1), output=tmp_path / "c.json")
    assert result["run"]["max_steps"] == 1 and all(e["turns"] == 1 for e in result["episodes"])
    assert result["run"]["skills"]["bank_version"] == 7
    assert all("g1" in e["skill_ids"] for e in result["episodes"])
    with pytest.raises(PolicyLoadError, match="was trained on 'toy', not 'webshop'"):
        load_policy(get_env_spec("webshop"), f"ckpt:{tmp_path}")


@pytest.mark.parametrize("constrained", [False, True])
def test_a_checkpoint_trained_with_constrained_actions_is_evaluated_with_them(tmp_path, constrained):
    config = {"max_new_tokens": 12, "cold_start": "expert", "env": {"env_name": "toy", "max_steps": 2}}
    _checkpoint(tmp_path, config, constrained_actions=constrained)
    policy = load_policy(TOY, f"ckpt:{tmp_path}", PolicyOptions(device="cpu"))
    assert policy.describe["constrained_actions"] is constrained
    result = evaluate(TOY, policy, PlaySettings(games=6, progress=False), SkillSettings())
    rate = result["summary"]["invalid_action_rate"]
    # the random-init model almost never writes a valid action by itself; the constraint always does
    assert rate == 0.0 if constrained else rate > 0.5


def test_cli_smoke_hf_and_ckpt(hf_dir, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["eval", "--env", "toy", "--policy", f"hf:{hf_dir}", "--games", "3", "--device", "cpu",
                              "--max-new-tokens", "4", "--output", str(tmp_path / "h.json"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "toy success rate (%)" in res.stdout and f"hf:{hf_dir}" in res.stdout and "wrote" in res.stdout
    _checkpoint(tmp_path / "run", {"env_name": "toy", "max_steps": 2, "max_new_tokens": 4})
    res = runner.invoke(app, ["eval", "--env", "toy", "--policy", f"ckpt:{tmp_path / 'run'}", "--games", "3",
                              "--output", str(tmp_path / "c.json"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["run"]["skills"]["bank"].endswith("global_step_3/skill_bank.json") and out["summary"]["episodes"] == 3
    res = runner.invoke(app, ["eval", "--env", "toy", "--policy", f"ckpt:{tmp_path / 'run'}", "--no-skills", "--games",
                              "2", "--output", str(tmp_path / "n.json"), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout.strip().splitlines()[-1])["run"]["skills"] is None
