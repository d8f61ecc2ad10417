"""The local GRPO recipe: setup -> (validate) -> train loop -> validate/checkpoint -> cleanup.

Read top to bottom. Components (policy, batching, PPO update, checkpoints) live in sibling
modules and take plain arguments; only this file reads :class:`LocalTrainConfig`.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from agent_system.environments.base import get_env_spec
from skillrl.agent.episode import Episode
from skillrl.agent.original import warn_on_style_mismatch
from skillrl.agent.style import build_prompt_style
from skillrl.utils.metrics import success_by_task_type, success_metrics
from skillrl.trainer.evolution import Evolution, EvolutionHook, build_evolution
from skillrl.trainer.local import components as C
from skillrl.trainer.local.batch import episode_advantages, episodes_to_batch
from skillrl.trainer.local.config import LocalTrainConfig
from skillrl.trainer.local.loggers import MetricLogger
from skillrl.trainer.local.policy import LocalHFPolicy
from skillrl.trainer.local.rollout import EnvPool, collect_episodes, make_env_pool
from skillrl.trainer.local.warmup import supervised_warmup

log = logging.getLogger(__name__)

#: validation games use seeds from here on (fixed across rounds so rounds compare)
VAL_SEED_BASE = 1_000_003


@dataclass
class TrainResult:
    """What a local training run produced."""

    final_metrics: dict[str, float]
    """Metrics of the last step merged with the final validation."""
    reward_history: list[float]
    """Mean training reward per step."""
    checkpoint_dir: str | None
    """The last checkpoint (model, tokenizer, trainer_state.json, skill_bank.json)."""
    bank_path: str | None = None
    """The bank copy in the last checkpoint (None when skills are off)."""
    bank_version: int | None = None
    success_by_type: dict[str, list[int]] = field(default_factory=dict)
    """Final validation ``{task_type: [won, total]}``."""
    skill_ids: list[str] = field(default_factory=list)
    """Skill ids injected into the final validation episodes."""
    output_dir: str = ""
    seconds: float = 0.0
    steps: int = 0


def train(config: LocalTrainConfig, *, evolution_hook: EvolutionHook | None = None) -> TrainResult:
    """Train a policy on ``config.env.env_name`` with GRPO; see :class:`LocalTrainConfig`.

    Raises:
        EpisodesFailedError: every episode of a rollout or validation round failed in the env.
    """
    t_start = time.perf_counter()
    # ---------------------------------------------------------------- setup
    env = config.env
    C.seed_everything(env.seed)
    device = C.pick_device(config.device)
    if config.cpu_threads:
        torch.set_num_threads(config.cpu_threads)
    out_dir = Path(config.output_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_log = MetricLogger(out_dir, config.loggers)
    spec = get_env_spec(env.env_name)
    style = build_prompt_style(spec, env.prompt_style, env.original_repo)
    warn_on_style_mismatch(config.model_path, env.prompt_style, log)
    scoring = env.scoring
    episode_cfg = env.episode
    group = env.rollout.n
    num_train_envs = config.train_batch_size * group  # one env per rollout of the batch

    skills = C.build_skills(
        env.env_name,
        skills_json_path=env.skills.skills_json_path if env.skills else None,
        retriever_kwargs=env.skills_only_memory.retriever_kwargs(),
        style=style,
    )
    # usage counters + evolution after validation (the retriever reads the same bank object)
    evolution = (Evolution(evolution_hook, skills.bank) if evolution_hook is not None else
                 build_evolution(env.skills, bank=skills.bank, env_name=env.env_name, taxonomy=spec.taxonomy,
                                 work_dir=out_dir))
    train_kwargs = env.factory_kwargs(env.train_split)
    val_kwargs = env.factory_kwargs(env.val_split)
    train_pool = make_env_pool(spec, num_train_envs, train_kwargs, config.num_env_workers)
    val_pool: EnvPool | None = None
    try:
        warmup_steps = config.warmup_steps if config.warmup_steps is not None else (300 if config.model_path is None else 0)
        examples: list = []
        if config.model_path is None or warmup_steps > 0:
            try:
                examples = C.sample_examples(train_pool.envs[0], spec, episodes=config.warmup_episodes,
                                             max_steps=episode_cfg.max_steps,
                                             history_length=episode_cfg.history_length,
                                             seed=env.seed, skill_block=C.skill_block_fn(skills.retriever),
                                             style=style)
            except Exception as exc:  # these episodes only play the env: its failure ends the run
                log.debug("warm-up sampling failed", exc_info=True)
                raise EpisodesFailedError(f"the {spec.name} env failed while playing warm-up episodes: "
                                          f"{type(exc).__name__}: {exc}") from exc
        pm = C.build_policy_model(config.model_path, device=device, vocab_texts=C.vocab_corpus(examples),
                                  seed=env.seed)
        model, tokenizer = pm.model, pm.tokenizer
        lr = config.lr if config.lr is not None else (3e-4 if pm.tiny else 1e-6)
        policy = LocalHFPolicy(model, tokenizer, max_new_tokens=config.max_new_tokens,
                               temperature=config.temperature, max_prompt_tokens=config.max_prompt_tokens)
        val_policy = LocalHFPolicy(model, tokenizer, max_new_tokens=config.max_new_tokens,
                                   temperature=config.val_temperature, max_prompt_tokens=config.max_prompt_tokens)
        if warmup_steps > 0 and examples:
            supervised_warmup(model, policy.encode_prompts, C.encode_target_fn(tokenizer), examples,
                              steps=warmup_steps, lr=1e-3 if pm.tiny else lr, pad_id=tokenizer.pad_token_id,
                              seed=env.seed, progress=config.progress)
        ref_model = C.frozen_copy(model) if config.kl_coef > 0 else None
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=config.weight_decay)
        gen = torch.Generator().manual_seed(env.seed)
        task_rng = random.Random(env.seed)

        def validate(step: int) -> tuple[dict[str, float], dict[str, list[int]], list[Episode]]:
            nonlocal val_pool
            if val_pool is None:
                val_pool = make_env_pool(spec, config.val_batch_size, val_kwargs, config.num_env_workers)
            seeds = [VAL_SEED_BASE + i for i in range(config.val_batch_size)]
            eps = collect_episodes(val_policy, val_pool.envs, spec, seeds, skills=skills.retriever, config=episode_cfg,
                                   style=style)
            _require_a_playable_episode(eps, len(seeds), spec.name, "validation")
            by_type = success_by_task_type(ep.summary() for ep in eps)
            new_version = evolution.after_validation(step, eps)
            metrics = {**success_metrics(by_type, "val"), **{k: v for k, v in C.rollout_metrics(eps, "val", scoring).items()
                                                             if k != "val/success_rate"}}
            if new_version is not None:
                metrics["skills/bank_version"] = float(new_version)
            return metrics, by_type, eps

        # ---------------------------------------------------------------- train loop
        last_val: dict[str, float] = {}
        val_by_type: dict[str, list[int]] = {}
        val_eps: list[Episode] = []
        if config.val_before_train:
            last_val, val_by_type, val_eps = validate(0)
            metrics_log.log(0, last_val)
        reward_history: list[float] = []
        step_metrics: dict[str, float] = {}
        ckpt_dir: Path | None = None
        from tqdm.auto import tqdm

        bar = tqdm(range(1, config.total_training_steps + 1), desc="train", disable=not config.progress)
        for step in bar:
            t0 = time.perf_counter()
            # rollout: train_batch_size tasks x env.rollout.n copies sharing the env seed
            task_seeds = [task_rng.randrange(2**31) for _ in range(config.train_batch_size)]
            seeds = [s for s in task_seeds for _ in range(group)]
            episodes = collect_episodes(policy, train_pool.envs, spec, seeds, skills=skills.retriever,
                                        config=episode_cfg, style=style)
            _require_a_playable_episode(episodes, len(seeds), spec.name, f"training step {step}")
            t_rollout = time.perf_counter() - t0
            advantages = episode_advantages([scoring.score(ep) for ep in episodes], [ep.seed for ep in episodes])
            evolution.observe(episodes, step=step)
            step_metrics = C.rollout_metrics(episodes, "train", scoring)
            step_metrics.update(C.report_metrics(episodes, C.token_counter(tokenizer), C.skill_block_fn(skills.retriever)))
            reward_history.append(step_metrics.get("train/reward_mean", 0.0))
            # update (skipped when every advantage is 0: AdamW momentum alone must not move the policy)
            t1 = time.perf_counter()
            if episodes and any(abs(a) > 1e-8 for a in advantages):
                batch = episodes_to_batch(episodes, advantages, tokenizer.pad_token_id)
                old_lp = C.batch_logprobs(model, batch, temperature=config.temperature,
                                          micro_batch_size=config.micro_batch_size)
                ref_lp = (C.batch_logprobs(ref_model, batch, temperature=config.temperature,
                                           micro_batch_size=config.micro_batch_size) if ref_model is not None else None)
                step_metrics.update(C.ppo_update(
                    model, optimizer, batch, old_logprobs=old_lp, ref_logprobs=ref_lp, epochs=config.ppo_epochs,
                    mini_batches=config.ppo_mini_batches, micro_batch_size=config.micro_batch_size,
                    clip_ratio=config.clip_ratio, kl_coef=config.kl_coef, grad_clip=config.grad_clip,
                    temperature=config.temperature, loss_agg_mode=config.loss_agg_mode,
                    rollout_n=group, generator=gen))
                step_metrics["train/num_turns"] = float(batch.size)
                step_metrics["actor/update_skipped"] = 0.0
            else:
                step_metrics["actor/update_skipped"] = 1.0
            step_metrics["time/rollout_s"] = t_rollout
            step_metrics["time/update_s"] = time.perf_counter() - t1
            step_metrics["time/step_s"] = time.perf_counter() - t0
            if skills.bank is not None:
                step_metrics["skills/bank_version"] = float(skills.bank.version)
            # validation / checkpoint
            if config.test_freq > 0 and step % config.test_freq == 0 and step < config.total_training_steps:
                last_val, val_by_type, val_eps = validate(step)
                step_metrics.update(last_val)
            if config.save_freq > 0 and step % config.save_freq == 0 and step < config.total_training_steps:
                ckpt_dir = _checkpoint(out_dir, step, model, tokenizer, skills, config, step_metrics)
            metrics_log.log(step, step_metrics)
            bar.set_postfix(reward=f"{step_metrics.get('train/reward_mean', 0.0):.2f}")
        bar.close()

        # ---------------------------------------------------------------- final validation + checkpoint
        final_step = config.total_training_steps
        last_val, val_by_type, val_eps = validate(final_step)
        metrics_log.log(final_step, {f"final/{k}": v for k, v in last_val.items()})
        ckpt_dir = _checkpoint(out_dir, final_step, model, tokenizer, skills, config, {**step_metrics, **last_val})
        bank_path = str(ckpt_dir / "skill_bank.json") if skills.bank is not None else None
        injected = sorted({sid for ep in val_eps for sid in ep.skill_ids})
        return TrainResult(
            final_metrics={**step_metrics, **last_val},
            reward_history=reward_history,
            checkpoint_dir=str(ckpt_dir),
            bank_path=bank_path,
            bank_version=skills.bank.version if skills.bank is not None else None,
            success_by_type=val_by_type,
            skill_ids=injected,
            output_dir=str(out_dir),
            seconds=time.perf_counter() - t_start,
            steps=final_step,
        )
    # ---------------------------------------------------------------- cleanup
    finally:
        train_pool.close()
        if val_pool is not None:
            val_pool.close()
        metrics_log.close()


class EpisodesFailedError(RuntimeError):
    """Every episode of a round failed in the environment (nothing was learnt or measured)."""


def _require_a_playable_episode(episodes: list[Episode], wanted: int, env_name: str, what: str) -> None:
    """Raise :class:`EpisodesFailedError` when none of ``wanted`` episodes ran without an env error
    (failed resets drop episodes, failed steps set ``Episode.error``)."""
    if wanted and all(ep.error is not None for ep in episodes):
        first = next((ep.error for ep in episodes if ep.error), "the env failed on reset (see the warnings above)")
        raise EpisodesFailedError(f"all {wanted} {env_name} episodes of {what} failed in the environment; "
                                  f"first error: {first}")


def _checkpoint(out_dir: Path, step: int, model: Any, tokenizer: Any, skills: C.SkillsSetup,
                config: LocalTrainConfig, metrics: dict[str, float]) -> Path:
    state = {"global_step": step, "metrics": metrics, "config": dataclasses.asdict(config),
             "skills_source": skills.source_path}
    path = C.save_checkpoint(out_dir / "checkpoints" / f"global_step_{step}", model=model, tokenizer=tokenizer,
                             bank=skills.bank, state=state)
    log.info("checkpoint written to %s", path)
    return path
