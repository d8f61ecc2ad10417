"""The env agent loop on verl 0.9.1: a stand-in LLM server speaking verl's ``generate`` interface,
a real (locally built) tokenizer with a chat template, the real toy env; then verl's own v1
post-processing (``AgentLoopWorkerTQ._agent_loop_postprocess`` with TransferQueue's put captured)
and verl's multi-trajectory GRPO advantage."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest
import torch

pytest.importorskip("verl")

from skillrl.trainer import _verl  # noqa: E402
from skillrl.trainer import verl_agent_loop as val  # noqa: E402

from verl_helpers import compose, toy_tokenizer  # noqa: E402

TASK_RE = re.compile(r"task is to ?: take the (\w+) from the (\w+)")


class StandInServer:
    """Answers like verl's ``LLMServerClient.generate`` (returns a ``TokenOutput``).

    Episodes (request ids) alternate between a player that solves the toy game and one that
    answers nonsense, in the order they first call.
    """

    def __init__(self, tokenizer):
        self.tok = tokenizer
        self.modes: dict[str, str] = {}
        self.calls: list[dict] = []

    async def generate(self, request_id, *, prompt_ids, sampling_params, **kwargs):
        mode = self.modes.setdefault(request_id, "good" if len(self.modes) % 2 == 0 else "bad")
        prompt = self.tok.decode(prompt_ids, skip_special_tokens=True)
        self.calls.append({"request_id": request_id, "prompt": prompt, "sampling_params": sampling_params})
        goal, place = TASK_RE.search(prompt).groups()
        if mode == "bad":
            text = "i do not know"
        elif "You arrive" in prompt:
            text = f"<action> take {goal} </action>"
        else:
            text = f"<action> go to {place} </action>"
        ids = self.tok.encode(text, add_special_tokens=False) + [self.tok.eos_token_id]
        return _verl.TokenOutput(
            token_ids=ids, log_probs=[-0.5] * len(ids), extra_fields={"global_steps": 3}, num_preempted=0
        )


def make_loop(cfg, tokenizer, server):
    return val.EnvAgentLoop(
        trainer_config=_verl.DictConfigWrap(cfg),
        server_manager=server,
        tokenizer=tokenizer,
        processor=None,
        dataset_cls=_verl.RLHFDataset,
        data_config=_verl.DictConfigWrap(cfg.data),
        hf_model_type=None,
    )


ROW = {
    "raw_prompt": [{"role": "user", "content": "toy train game (seed 5)"}],
    "extra_info": {"index": 0, "env_name": "toy", "seed": 5, "split": "train", "task": ""},
    "index": 0,
    "data_source": "skillrl/toy",
    "uid": "row0",
    "global_steps": 3,
}


@pytest.fixture(scope="module")
def rollouts():
    tok = toy_tokenizer()
    cfg = compose("skillrl_trainer", ["env=toy", "env.max_steps=2"])
    server = StandInServer(tok)

    async def play():
        outs = []
        for session in range(4):
            loop = make_loop(cfg, tok, server)
            outs.append(await loop.run({"temperature": 1.0}, **ROW, session_id=session))
        return outs

    return asyncio.run(play()), server, tok, cfg


def test_sessions_play_the_rows_game_and_score_it(rollouts):
    sessions, server, tok, _ = rollouts
    infos = [s[-1].extra_fields["reward_extra_info"] for s in sessions]
    assert [i["won"] for i in infos] == [1.0, 0.0, 1.0, 0.0]
    assert len({i["game_id"] for i in infos}) == 1, "all copies of a row must play the same game"
    # good sessions: two steps (go, take) with reward 1 on each output; bad ones truncated at 2 steps
    for s, won in zip(sessions, [1, 0, 1, 0]):
        assert len(s) == 2
        assert all(o.reward_score == float(won) for o in s)
        assert all(o.response_mask == [1] * len(o.response_ids) for o in s)
        assert all(o.response_logprobs == [-0.5] * len(o.response_ids) for o in s)
        assert s[-1].extra_fields["min_global_steps"] == 3
    # the prompt verl saw is the chat-templated env prompt and the response is the server's tokens
    first = sessions[0][0]
    text = tok.decode(first.prompt_ids)
    assert text.startswith("user :") and "take the" in text and text.rstrip().endswith("assistant :")
    assert tok.decode(first.response_ids, skip_special_tokens=True).startswith("<action> go to")
    assert server.calls[0]["sampling_params"] == {"temperature": 1.0}
    assert infos[0]["task_type"] in ("fruit", "tool", "paper")
    assert isinstance(infos[0]["episode"], str) and '"transcript"' in infos[0]["episode"]


def _run_v1_postprocess(sessions, tok, cfg, monkeypatch):
    """verl's own per-output post-processing (agent_loop_tq); TransferQueue puts are captured."""
    import verl.trainer.ppo.v1.agent_loop_tq as tqmod
    from verl.experimental.agent_loop.agent_loop import AgentLoopWorker

    captured = {"keys": [], "fields": []}

    async def fake_put(keys, fields, tags, partition_id):
        captured["keys"].extend(keys)
        captured["fields"].append(fields)

    monkeypatch.setattr(tqmod.tq, "async_kv_batch_put", fake_put)
    worker = object.__new__(AgentLoopWorker)  # only the attributes the post-processing reads
    worker.reward_loop_worker_handles = None
    worker.distillation_enabled = False
    worker.processor = None
    worker.tokenizer = tok
    worker.mm_processor_kwargs = {}
    postprocess = tqmod.AgentLoopWorkerTQ.__ray_actor_class__._agent_loop_postprocess

    async def run_all():
        for session_id, outputs in enumerate(sessions):
            await postprocess(worker, outputs, False, **{**ROW, "session_id": session_id})

    asyncio.run(run_all())
    return captured


def test_v1_postprocess_and_grpo_advantages(rollouts, monkeypatch):
    sessions, _, tok, cfg = rollouts
    captured = _run_v1_postprocess(sessions, tok, cfg, monkeypatch)
    keys = captured["keys"]
    assert keys == [f"row0_{s}_{i}" for s in range(4) for i in range(2)]

    from tensordict import TensorDict

    # what ``PPOTrainer._compute_advantage`` reads back from TransferQueue
    tds = [td.select("prompts", "responses", "response_mask", "rm_scores") for td in captured["fields"]]
    rows = [tds[s][i] for s in range(4) for i in range(2)]
    width = max(r["responses"].shape[0] for r in rows)

    def pad(t, value=0):
        return torch.nn.functional.pad(t, (0, width - t.shape[0]), value=value)

    batch = TensorDict(
        {
            "response_mask": torch.stack([pad(r["response_mask"]) for r in rows]),
            "rm_scores": torch.stack([pad(r["rm_scores"]) for r in rows]),
        },
        batch_size=[len(rows)],
    )
    data = _verl.DataProto(batch=batch)
    data.batch["token_level_rewards"] = data.batch["rm_scores"]
    data.non_tensor_batch["uid"] = np.array(["row0"] * len(rows), dtype=object)
    # verl put the episode score on the last response token of every step
    assert torch.allclose(data.batch["rm_scores"].sum(-1), torch.tensor([1.0, 1, 0, 0, 1, 1, 0, 0]))

    from verl.trainer.ppo.core_algos import AdvantageEstimator

    out = _verl.compute_advantage_for_multi_trajectories(
        data, batch_keys=keys, adv_estimator=AdvantageEstimator.GRPO, num_repeat=4, config=None
    )
    adv = out.batch["advantages"]
    mask = out.batch["response_mask"].bool()
    per_row = torch.stack([adv[i][mask[i]].mean() for i in range(len(rows))])
    won_rows = [0, 1, 4, 5]
    lost_rows = [2, 3, 6, 7]
    assert (per_row[won_rows] > 0).all() and (per_row[lost_rows] < 0).all()
    # every step of a session carries the session's advantage
    assert torch.allclose(per_row[0], per_row[1]) and torch.allclose(per_row[2], per_row[3])
    assert (adv[~mask] == 0).all()


def test_empty_episode_is_a_session_failure():
    from skillrl.agent.episode import Episode

    with pytest.raises(RuntimeError, match="no step"):
        val.episode_outputs(Episode("toy", "g", "t", "x", 1, error="boom"), [], response_length=8)


def test_skills_are_retrieved_once_and_shown_on_every_turn(tmp_path, monkeypatch):
    import json

    from agent_system.environments import get_env_spec
    from skillrl.skills import SkillBank, build_retriever

    from verl_helpers import TOY_BANK

    bank_path = tmp_path / "bank.json"
    bank_path.write_text(json.dumps(TOY_BANK))
    rendered = [build_retriever(SkillBank.from_dict(TOY_BANK), taxonomy=get_env_spec("toy").taxonomy).retrieve("take the apple", t).text
                for t in ("fruit", "tool", "paper")]
    tok = toy_tokenizer(rendered)
    cfg = compose("skillrl_trainer", ["env=toy", "env.max_steps=2", "env.use_skills_only_memory=True",
                                      f"env.skills_only_memory.skills_json_path={bank_path}"])
    monkeypatch.setattr(val, "_RETRIEVERS", {})
    built = []
    real_builder = val.SKILL_SOURCE_BUILDER
    monkeypatch.setattr(val, "SKILL_SOURCE_BUILDER", lambda *a: built.append(a[1]) or real_builder(*a))
    server = StandInServer(tok)

    async def play():
        return [await make_loop(cfg, tok, server).run({}, **ROW, session_id=s) for s in range(2)]

    sessions = asyncio.run(play())
    info = sessions[0][-1].extra_fields["reward_extra_info"]
    assert built == [0], "one retriever per bank version per process"
    ids = info["skill_ids"].split(",")
    assert {"gen_001", "mis_001"} <= set(ids)
    assert info["bank_version"] >= 0
    # the skill block is in the prompt of both turns
    assert len(server.calls) == 4
    assert all("go to the place named in the task" in c["prompt"] for c in server.calls)


def test_server_policy_cuts_responses_before_decoding():
    class Server:
        async def generate(self, request_id, *, prompt_ids, sampling_params, **kw):
            return _verl.TokenOutput(token_ids=[5, 6, 7, 8], log_probs=[-1.0, -2.0, -3.0, -4.0])

    async def encode(messages):
        assert messages == [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]
        return [1, 2]

    policy = val.ServerPolicy(encode=encode, server=Server(), decode=lambda ids: " ".join(map(str, ids)),
                              sampling_params={"temperature": 0}, system_prompt="sys", max_response_tokens=2)
    gen = asyncio.run(policy.generate("hi"))
    assert (gen.text, gen.prompt_ids, gen.response_ids, gen.logprobs) == ("5 6", (1, 2), (5, 6), (-1.0, -2.0))
    assert policy.turns[0].num_preempted == -1


def test_settings_and_rows():
    s = val.env_settings({"env_name": "alfworld", "data_dir": "/d", "max_steps": 3,
                          "skills_only_memory": {"top_k": 2}})
    assert (s.env_name, s.max_steps, s.skills_only_memory.top_k, s.skills) == ("alfworld", 3, 2, None)
    assert s.episode.max_steps == 3
    assert s.factory_kwargs("valid_seen") == {"data_dir": "/d", "split": "valid_seen"}
    with pytest.raises(ValueError, match="env.skills_only_memory.skills_json_path"):
        val.env_settings({"env_name": "toy", "use_skills_only_memory": True})
    with pytest.raises(ValueError, match="env.env_name"):
        val.env_settings({})
    with pytest.raises(ValueError, match="env.max_steps: 'x'"):
        val.env_settings({"env_name": "toy", "max_steps": "x"})
    t = val.row_task({"extra_info": {"env_name": "webshop", "seed": np.int64(4), "task": "g12", "split": None}}, "x")
    assert t == val.RowTask("webshop", 4, "g12", None)


def test_doctests():
    import doctest

    from skillrl.trainer import config, verl_trainer

    for mod in (val, verl_trainer, config):
        result = doctest.testmod(mod)
        assert result.attempted > 0 and result.failed == 0
