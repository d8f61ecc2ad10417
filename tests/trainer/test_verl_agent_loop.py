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

from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

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
    # the group ids, as verl's _compute_advantage reads them: the uid field of every stored output
    uids = [uid for td in captured["fields"] for uid in list(td["uid"])]
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
    data.non_tensor_batch["uid"] = np.array(uids, dtype=object)
    assert len(uids) == len(rows) and set(uids) == {ROW["uid"]}
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


# --- env failures, the prompt budget, env worker processes -------------------------------------


class _FlakyPool:
    """An env pool whose ``fail_at``-th env raises on its first step (an infrastructure failure)."""

    def __init__(self, fail_at):
        self.acquired = 0
        self.fail_at = fail_at
        self.broken = []

    def acquire(self, env_name, kwargs):
        from agent_system.environments import get_env_spec

        env = get_env_spec(env_name).make(**kwargs)
        self.acquired += 1
        if self.acquired == self.fail_at:
            def boom(text):
                raise ConnectionError("simulator lost")
            env.step = boom
        return env

    def release(self, env_name, kwargs, env, *, broken=False):
        self.broken.append(broken)


def test_an_env_error_is_a_failed_session_for_verl(monkeypatch):
    """verl's own ``_run_prompt`` (TransferQueue puts captured): the session whose env raised puts
    no output and the group ends with status ``failure``; the other sessions are stored."""
    import verl.trainer.ppo.v1.agent_loop_tq as tqmod

    tok = toy_tokenizer()
    cfg = compose("skillrl_trainer", ["env=toy", "env.max_steps=2", "env.rollout.n=4"])
    pool = _FlakyPool(fail_at=2)
    monkeypatch.setattr(val, "env_pool", lambda workers: pool)
    statuses, keys = [], []

    async def fake_put(key, partition_id, tag=None, **kw):
        statuses.append(tag["status"])

    async def fake_batch_put(keys=None, fields=None, tags=None, partition_id=None, **kw):
        keys_.extend(keys)

    keys_ = keys
    monkeypatch.setattr(tqmod.tq, "async_kv_put", fake_put)
    monkeypatch.setattr(tqmod.tq, "async_kv_batch_put", fake_batch_put)
    monkeypatch.setitem(_verl.agent_loop_registry, val.AGENT_LOOP_NAME, {"_target_": val.AGENT_LOOP_TARGET})
    worker = object.__new__(tqmod.AgentLoopWorkerTQ.__ray_actor_class__)
    worker.config = cfg
    worker.llm_client = StandInServer(tok)
    worker.tokenizer = tok
    worker.processor = None
    worker.hf_model_type = None
    worker.dataset_cls = _verl.RLHFDataset
    worker.tools = []
    worker.reward_loop_worker_handles = None
    worker.distillation_enabled = False
    worker.mm_processor_kwargs = {}
    run_prompt = tqmod.AgentLoopWorkerTQ.__ray_actor_class__._run_prompt
    trajectory = {"step": 3, "sample_index": 0, "rollout_n": 0, "validate": False}
    prompt = {**ROW, "agent_name": val.AGENT_LOOP_NAME}
    async def one():
        return await make_loop(cfg, tok, worker.llm_client).run({}, **{**ROW, "session_id": 0})

    pool.acquired = 1  # this session gets the failing env
    with pytest.raises(val.EnvRolloutError, match="simulator lost"):
        asyncio.run(one())
    pool.acquired = 0
    asyncio.run(run_prompt(worker, dict(prompt), {"temperature": 1.0}, trajectory))
    assert statuses == ["running", "failure"]
    sessions = {k.rsplit("_", 2)[1] for k in keys}
    assert len(sessions) == 3 and len(keys) == 3 * 2, "the failed session stores nothing"
    assert pool.broken.count(True) == 2


def _play(cfg, tok, server):
    async def one():
        return await make_loop(cfg, tok, server).run({}, **ROW, session_id=0)

    return asyncio.run(one())


class Babbling(StandInServer):
    """Every episode answers without an action (its replies enter the history)."""

    async def generate(self, request_id, *, prompt_ids, sampling_params, **kwargs):
        self.calls.append({"request_id": request_id, "prompt_ids": list(prompt_ids)})
        ids = self.tok.encode("i do not know", add_special_tokens=False) + [self.tok.eos_token_id]
        return _verl.TokenOutput(token_ids=ids, log_probs=[-0.5] * len(ids), num_preempted=0)


def test_over_long_prompts_lose_history_turns_not_their_start():
    tok = toy_tokenizer()
    base = ["env=toy", "env.max_steps=2", "env.history_length=2"]
    full = _play(compose("skillrl_trainer", base), tok, Babbling(tok))
    bare = _play(compose("skillrl_trainer", ["env=toy", "env.max_steps=2", "env.history_length=0"]), tok, Babbling(tok))
    lengths, bare_lengths = [len(o.prompt_ids) for o in full], [len(o.prompt_ids) for o in bare]
    assert lengths[1] > bare_lengths[1], "the second turn shows the first one as history"
    # a budget the first turn fits but the second only without its history
    budget = max(lengths[0], bare_lengths[1])
    assert lengths[1] > budget
    cut = _play(compose("skillrl_trainer", [*base, f"data.max_prompt_length={budget}"]), tok, Babbling(tok))
    info = cut[-1].extra_fields["reward_extra_info"]
    assert (info["history_cuts"], info["prompt_overflows"]) == (1, 0)
    assert all(len(o.prompt_ids) <= budget for o in cut)
    assert cut[1].prompt_ids == bare[1].prompt_ids, "the turn lost its history, nothing else"
    assert tok.decode(cut[1].prompt_ids).startswith("user : Your task is to")
    # a budget no prompt fits: counted as an overflow (verl's encoder cuts it)
    tiny = _play(compose("skillrl_trainer", [*base, "data.max_prompt_length=6"]), tok, Babbling(tok))
    info = tiny[-1].extra_fields["reward_extra_info"]
    assert info["prompt_overflows"] == len(tiny) and all(len(o.prompt_ids) == 6 for o in tiny)


def test_a_reply_without_an_action_enters_the_history_capped():
    from skillrl.agent.loop import EpisodeConfig, run_episode
    from agent_system.environments import get_env_spec
    from skillrl.agent.episode import Generation

    class Babbler:
        def __init__(self):
            self.prompts = []

        async def generate(self, prompt):
            self.prompts.append(prompt)
            return Generation(text="x" * 5000)

    spec = get_env_spec("toy")
    policy = Babbler()
    asyncio.run(run_episode(spec.make(), spec, policy, seed=1, config=EpisodeConfig(max_steps=2, max_history_reply_chars=40)))
    assert "x" * 40 in policy.prompts[1] and "x" * 41 not in policy.prompts[1]


def test_envs_in_worker_processes_play_the_same_games(monkeypatch):
    import os

    tok = toy_tokenizer()
    monkeypatch.setattr(val, "_POOLS", {})
    cfg = compose("skillrl_trainer", ["env=toy", "env.max_steps=2", "env.workers.num_processes=1",
                                      "env.workers.envs_per_process=2"])
    server = StandInServer(tok)

    async def play():
        return await asyncio.gather(*[make_loop(cfg, tok, server).run({}, **ROW, session_id=s) for s in range(4)])

    try:
        sessions = asyncio.run(play())
        pool = val.env_pool(val.env_settings(dict(cfg.env)).workers)
        assert isinstance(pool, val.ProcessEnvPool)
        (manager,) = pool._managers.values()
        assert manager.num_envs == 2 and manager.worker_pid(0) != os.getpid()
    finally:
        for p in val._POOLS.values():
            p.close()
    infos = [s[-1].extra_fields["reward_extra_info"] for s in sessions]
    assert sorted(i["won"] for i in infos) == [0.0, 0.0, 1.0, 1.0]
    assert len({i["game_id"] for i in infos}) == 1


def test_the_agent_loop_yaml_registers_the_loop_without_the_plugin(tmp_path):
    """verl's own path (rollout.agent.agent_loop_config_path), in a process where the
    verl.plugins entry point is switched off."""
    import os
    import subprocess
    import sys

    cfg = compose("skillrl_trainer")
    path = cfg.actor_rollout_ref.rollout.agent.agent_loop_config_path
    script = f"""
import sys
from omegaconf import OmegaConf
import verl
from verl.experimental.agent_loop.agent_loop import _agent_loop_registry
from verl.utils.import_utils import resolve_config_path
assert "skillrl.trainer.plugin" not in sys.modules and "skillrl_env_agent" not in _agent_loop_registry
for entry in OmegaConf.load(resolve_config_path({path!r})):   # AgentLoopWorker.__init__ does this
    _agent_loop_registry[entry.name] = entry
import hydra
cls = hydra.utils.get_class(_agent_loop_registry["skillrl_env_agent"]["_target_"])
print(cls.__module__, cls.__name__)
"""
    env = {**os.environ, "VERL_USE_EXTERNAL_PLUGINS": "none"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-2:] == ["skillrl.trainer.verl_agent_loop", "EnvAgentLoop"]


def test_in_process_envs_take_turns():
    """Two ALFWorld resets in two threads break TextWorld's shared PDDL parser; the in-process
    pool's envs take one call at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from skillrl.utils.paths import DataNotFoundError, resolve_data_dir

    try:
        data = str(resolve_data_dir("alfworld", str(ROOT.parent / "shared" / "data" / "alfworld")
                                    if (ROOT.parent / "shared" / "data" / "alfworld").is_dir() else None))
    except DataNotFoundError:
        pytest.skip("no ALFWorld data")
    pool = val.EnvPool()
    kwargs = {"data_dir": data, "split": "valid_seen", "require_think": False}
    envs = [pool.acquire("alfworld", kwargs) for _ in range(2)]
    assert all(isinstance(e, val.SerializedEnv) for e in envs)

    def play(i):
        obs, info = envs[i].reset(200 + i)
        envs[i].step("<action> look </action>")
        return info["game_id"]

    try:
        with ThreadPoolExecutor(2) as ex:
            games = list(ex.map(play, range(2)))
    finally:
        for e in envs:
            pool.release("alfworld", kwargs, e, broken=True)
    assert len(set(games)) == 2
