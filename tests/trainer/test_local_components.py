"""Local backend components: config, batching policy, turn batches, advantages, checkpoints."""

import asyncio
import doctest
import importlib
import json
import math

import pytest
import torch

from agent_system.environments.base import get_env_spec
from skillrl.agent.loop import EpisodeConfig
from skillrl.trainer.local import checkpoint as ckpt
from skillrl.trainer.local.model import build_policy_model
from skillrl.trainer.local.ppo import batch_logprobs, ppo_update
from skillrl.trainer.local.batch import build_turn_batch, episode_advantages, episodes_to_batch, response_logprobs
from skillrl.trainer.local.config import LocalTrainConfig
from skillrl.trainer.local.policy import LocalHFPolicy, cut_at_eos
from skillrl.trainer.local.rollout import collect_episodes, make_env_pool
from skillrl.trainer.local.tiny import build_tiny_model, build_word_tokenizer


@pytest.mark.parametrize("name", ["skillrl.trainer.local.batch", "skillrl.trainer.local.policy",
                                  "skillrl.trainer.local.constrained", "skillrl.trainer.local.ppo",
                                  "agent_system.environments.toy.projection", "agent_system.environments.toy.prompt",
                                  "agent_system.environments.toy.env"])
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


def test_config_checks_name_the_field():
    from skillrl.trainer.config import EnvConfig
    from skillrl.utils.config import ConfigError

    with pytest.raises(ConfigError, match=r"loggers: \['neptune'\] \(allowed: a list of jsonl, console, tensorboard"):
        LocalTrainConfig(loggers=("neptune",))
    with pytest.raises(ConfigError, match="skills_only_memory.skills_json_path"):
        LocalTrainConfig(env=EnvConfig(env_name="toy", use_skills_only_memory=True))
    with pytest.raises(ConfigError, match="device: 'tpu'"):
        LocalTrainConfig(device="tpu")
    assert LocalTrainConfig(loggers=["jsonl"]).loggers == ("jsonl",)
    assert "train_batch_size" in LocalTrainConfig.field_names()


def _tiny(texts=("hello world go to garden take key",)):
    tok = build_word_tokenizer(list(texts))
    model = build_tiny_model(len(tok), pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, seed=0)
    return model, tok


def test_tokenizer_roundtrip_tags_and_unknown_words():
    tok = build_word_tokenizer(["Admissible actions: [go to garden] [put apple 1 in/on fridge 1]"])
    ids = tok("<action>put apple 1 in/on fridge 1</action>", add_special_tokens=False)["input_ids"]
    assert tok.unk_token_id not in ids
    assert tok.decode(ids) == "<action> put apple 1 in/on fridge 1 </action>"
    assert tok.unk_token_id in tok("zebra", add_special_tokens=False)["input_ids"]


def test_policy_batches_concurrent_requests_and_logprobs_match_training_forward():
    model, tok = _tiny()
    policy = LocalHFPolicy(model, tok, max_new_tokens=5, temperature=0.7)

    async def run():
        async def one(p):
            with policy.client():
                await asyncio.sleep(0.001 * len(p))  # arrive at different times
                return await policy.generate(p)
        return await asyncio.gather(*(one("hello world " * (i + 1)) for i in range(6)))

    gens = asyncio.run(run())
    assert policy.num_generate_calls == 1  # one model.generate for all six
    for g in gens:
        assert 1 <= len(g.response_ids) <= 5 and len(g.logprobs) == len(g.response_ids)
        assert tok.eos_token_id not in g.response_ids[:-1]  # nothing after EOS
    batch = build_turn_batch([g.prompt_ids for g in gens], [g.response_ids for g in gens], [0.0] * 6, tok.pad_token_id)
    with torch.no_grad():
        lp = response_logprobs(model, batch, 0.7)  # the sampling temperature, applied once
    for i, g in enumerate(gens):
        assert torch.allclose(lp[i, : len(g.logprobs)], torch.tensor(g.logprobs), atol=1e-4)


def test_policy_errors_reach_every_waiter():
    model, tok = _tiny()
    policy = LocalHFPolicy(model, tok, max_new_tokens=2)

    def boom(prompts, admissible=None):
        raise RuntimeError("generation failed")

    policy.generate_batch = boom

    async def run():
        return await asyncio.gather(policy.generate("a"), policy.generate("b"), return_exceptions=True)

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(run()))


def test_a_stalled_round_is_flushed_with_a_warning(caplog):
    """A registered episode that never asks (nor leaves) does not hang the others forever."""
    model, tok = _tiny()
    policy = LocalHFPolicy(model, tok, max_new_tokens=2, max_stall_s=0.3)

    async def run():
        stuck = asyncio.Event()

        async def silent():
            with policy.client():
                await stuck.wait()  # registered, never generates

        async def asking():
            with policy.client():
                return await policy.generate("hello world")

        hold = asyncio.create_task(silent())
        await asyncio.sleep(0)
        got = await asyncio.wait_for(asking(), 10)
        stuck.set()
        await hold
        return got

    with caplog.at_level("WARNING", logger="skillrl.trainer.local.policy"):
        gen = asyncio.run(run())
    assert gen.response_ids and policy.num_generate_calls == 1
    assert "1 of 2 registered episodes waiting" in caplog.text


def test_cut_at_eos_and_batch_padding():
    assert cut_at_eos([4, 1, 1, 0], {1}) == [4, 1]
    b = build_turn_batch([[3, 4, 5], [6]], [[7, 1], [8, 9, 1]], [1.0, -1.0], pad_id=0)
    assert b.input_ids.tolist() == [[3, 4, 5, 7, 1, 0], [0, 0, 6, 8, 9, 1]]
    assert b.position_ids.tolist()[1][:4] == [0, 0, 0, 1]
    assert b.response_mask.tolist() == [[1, 1, 0], [1, 1, 1]]
    assert b.advantages.tolist() == [[1, 1, 0], [-1, -1, -1]]
    sub = b.select(torch.tensor([0]))
    assert sub.input_ids.tolist() == [[3, 4, 5, 7, 1]]


def test_grpo_advantages_zero_for_equal_groups():
    adv = episode_advantages([1.0, 1.0, 0.0, 1.0], [7, 7, 8, 8])
    assert adv[0] == adv[1] == 0.0
    assert adv[3] > 0 > adv[2]


def test_rollout_through_shared_agent_loop_groups_share_games():
    spec = get_env_spec("toy")
    pool = make_env_pool(spec, 4, {})
    model, tok = _tiny(["You are in the hall take the key go to garden kitchen office garage"])
    policy = LocalHFPolicy(model, tok, max_new_tokens=4)
    eps = collect_episodes(policy, pool.envs, spec, [5, 5, 9, 9], config=EpisodeConfig(max_steps=2))
    assert [e.seed for e in eps] == [5, 5, 9, 9]
    assert eps[0].game_id == eps[1].game_id and eps[2].game_id == eps[3].game_id
    batch = episodes_to_batch(eps, [1.0, -1.0, 0.5, -0.5], tok.pad_token_id)
    assert batch.size == sum(e.num_turns for e in eps)
    assert policy.num_generate_calls <= 2 + 1  # ~one call per turn for the whole batch
    pool.close()


def test_rollout_drops_an_episode_whose_env_fails_in_reset(caplog):
    spec = get_env_spec("toy")
    pool = make_env_pool(spec, 3, {})

    class ResetFails:
        def __init__(self, env):
            self.env = env

        def reset(self, seed=None, task=None):
            raise OSError("game file unreadable")

        def __getattr__(self, name):
            return getattr(self.env, name)

    envs = [pool.envs[0], ResetFails(pool.envs[1]), pool.envs[2]]
    model, tok = _tiny(["You are in the hall take the key go to garden kitchen office garage"])
    eps = collect_episodes(LocalHFPolicy(model, tok, max_new_tokens=4), envs, spec, [1, 2, 3],
                           config=EpisodeConfig(max_steps=2))
    assert [e.seed for e in eps] == [1, 3] and all(e.error is None and e.num_turns > 0 for e in eps)
    assert "seed 2 dropped: OSError: game file unreadable" in caplog.text
    pool.close()


def test_ppo_update_moves_logprobs_toward_positive_advantage():
    model, tok = _tiny()
    batch = build_turn_batch([[3, 4], [3, 4]], [[5, 1], [6, 1]], [1.0, -1.0], tok.pad_token_id)
    before = batch_logprobs(model, batch, temperature=1.0, micro_batch_size=8)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    metrics = ppo_update(model, opt, batch, old_logprobs=before, ref_logprobs=None, epochs=3, mini_batches=1,
                           micro_batch_size=1, clip_ratio=0.2, kl_coef=0.0, grad_clip=1.0, temperature=1.0,
                           loss_agg_mode="token-mean", rollout_n=2, generator=torch.Generator().manual_seed(0))
    after = batch_logprobs(model, batch, temperature=1.0, micro_batch_size=8)
    assert after[0, 0] > before[0, 0] and after[1, 0] < before[1, 0]
    assert math.isfinite(metrics["actor/pg_loss"])
    assert math.isfinite(metrics["actor/grad_norm"]) and metrics["actor/grad_norm"] > 0  # the update had a gradient


def test_checkpoint_roundtrip_keeps_word_tokenizer(tmp_path):
    model, tok = _tiny()
    path = ckpt.save_checkpoint(tmp_path / "ck", model=model, tokenizer=tok, bank=None, state={"global_step": 3})
    assert json.loads((path / "trainer_state.json").read_text())["global_step"] == 3
    pm = build_policy_model(str(path), device=torch.device("cpu"))
    text = "hello <action>go to garden</action>"
    assert pm.tokenizer(text)["input_ids"] == tok(text)["input_ids"]
    with pytest.raises(FileNotFoundError):
        build_policy_model("/nonexistent/model/dir", device=torch.device("cpu"))


def test_batches_do_not_depend_on_timing():
    """Episodes whose env steps take different (random) times get the same batches and the
    same sampled tokens: the policy flushes when every live episode waits, in registration order."""
    import random as _random
    import time as _time

    spec = get_env_spec("toy")
    model, tok = _tiny(["You are in the hall take the key go to garden kitchen office garage"])

    class Slow:
        def __init__(self, env, rng):
            self.env, self.rng = env, rng

        def step(self, text):
            _time.sleep(self.rng.random() * 0.02)
            return self.env.step(text)

        def __getattr__(self, name):
            return getattr(self.env, name)

    def run(delay_seed):
        pool = make_env_pool(spec, 6, {})
        rng = _random.Random(delay_seed)
        policy = LocalHFPolicy(model, tok, max_new_tokens=4, temperature=1.0, max_batch_size=4)
        calls = []
        real = policy.generate_batch

        def spy(prompts, admissible=None):
            calls.append(len(prompts))
            return real(prompts, admissible)

        policy.generate_batch = spy
        torch.manual_seed(0)
        eps = collect_episodes(policy, [Slow(e, rng) for e in pool.envs], spec, [1, 1, 2, 2, 3, 3],
                               config=EpisodeConfig(max_steps=2))
        pool.close()
        return [[s.generation.text for s in ep.steps] for ep in eps], calls

    texts_a, calls_a = run(1)
    texts_b, calls_b = run(2)
    assert texts_a == texts_b
    assert calls_a == calls_b and calls_a[:2] == [4, 2]  # 6 waiting episodes, cut into batches of 4
