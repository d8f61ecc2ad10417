"""The local recipe: cold start (SFT) -> GRPO with skills -> validation (+ evolution) -> checkpoints.

One class, :class:`LocalRecipe`, read top to bottom as in torchtune's recipes::

    recipe = LocalRecipe(config)
    recipe.setup()          # seeds, envs, bank, model, optimizer, loggers; load() when resuming
    result = recipe.run()   # cold_start() [sft_step ...] -> validate -> train_step ... -> save
    recipe.cleanup()

:func:`train` does exactly that. Components live in sibling modules and take plain arguments
(policy, batching, PPO update, SFT, constrained decoding, checkpoints, metric sinks); only this
file reads :class:`LocalTrainConfig`. Skill-bank evolution is one component the recipe calls
after each round of training rollouts (:meth:`observe`) and after each validation
(:meth:`after_validation`); :meth:`LocalRecipe._build_evolution` is where it is made.
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

from agent_system.environments.base import EnvSpec, get_env_spec
from skillrl.agent.episode import Episode
from skillrl.agent.original import warn_on_style_mismatch
from skillrl.agent.style import build_prompt_style
from skillrl.trainer.evolution import Evolution, EvolutionHook, build_evolution
from skillrl.trainer.local import checkpoint as ckpt
from skillrl.trainer.local import sft
from skillrl.trainer.local.batch import episode_advantages, episodes_to_batch, informative_episodes
from skillrl.trainer.local.config import FORMAT_COLD_START, NO_COLD_START, LocalTrainConfig
from skillrl.trainer.local.constrained import ActionVocabulary
from skillrl.trainer.local.metrics import report_metrics, rollout_metrics
from skillrl.trainer.local.model import (
    TinyShape,
    build_policy_model,
    encode_target_fn,
    frozen_copy,
    token_counter,
)
from skillrl.trainer.local.policy import LocalHFPolicy
from skillrl.trainer.local.ppo import batch_logprobs, has_signal, ppo_update
from skillrl.trainer.local.rollout import EnvPool, collect_episodes, make_env_pool
from skillrl.trainer.local.runtime import RunRNG, capture_rng, pick_device, restore_rng, seed_everything
from skillrl.trainer.local.skill_setup import SkillsSetup, build_skills, skill_block_fn
from skillrl.trainer.local.tracking import MetricLogger
from skillrl.trainer.local.warmup import example_texts, needs_think, sample_format_examples
from skillrl.utils.config import ConfigError
from skillrl.utils.metrics import success_by_task_type, success_metrics

log = logging.getLogger(__name__)

#: validation games use seeds from here on (fixed across rounds so rounds compare)
VAL_SEED_BASE = 1_000_003
#: cold-start games use seeds ``seed * COLD_START_SEED_STRIDE + i`` of the training split
COLD_START_SEED_STRIDE = 1_000_000
#: offset of the format warm-up's random-action sampler seed
FORMAT_SAMPLER_SEED_OFFSET = 7919
#: defaults that depend on the policy (None in the config)
FORMAT_STEPS_TINY = 300
TEACHER_SFT_STEPS = 400
GRPO_LR_TINY = 3e-4
GRPO_LR_CHECKPOINT = 1e-6
#: the step number of the checkpoint written when the cold start ends
COLD_START_STEP = 0


@dataclass
class TrainResult:
    """What a local training run produced."""

    final_metrics: dict[str, float]
    """Metrics of the last step merged with the final validation."""
    reward_history: list[float]
    """Mean training reward per step (the whole run, resumed steps included)."""
    checkpoint_dir: str | None
    """The last checkpoint (model, tokenizer, trainer_state.json, skill_bank.json)."""
    bank_path: str | None = None
    """The bank copy in the last checkpoint (None when skills are off)."""
    bank_version: int | None = None
    success_by_type: dict[str, list[int]] = field(default_factory=dict)
    """Final validation ``{task_type: [won, total]}``."""
    initial_success_by_type: dict[str, list[int]] = field(default_factory=dict)
    """The validation before the first GRPO step (after the cold start; ``val_before_train``),
    ``{task_type: [won, total]}`` (empty when it did not run)."""
    skill_ids: list[str] = field(default_factory=list)
    """Skill ids injected into the final validation episodes."""
    output_dir: str = ""
    seconds: float = 0.0
    steps: int = 0
    cold_start: dict[str, Any] = field(default_factory=dict)
    """What the cold start did (kind, steps, examples, loss, held-out accuracy)."""
    resumed_from: str | None = None
    """The checkpoint the run was resumed from."""
    data_path: str | None = None
    """Where the cold-start data went (``OUTPUT_DIR/sft_data``; None for the format warm-up)."""


@dataclass
class Validation:
    """One validation round."""

    metrics: dict[str, float]
    by_type: dict[str, list[int]]
    episodes: list[Episode]


class EpisodesFailedError(RuntimeError):
    """Every episode of a round failed in the environment (nothing was learnt or measured)."""


class LocalRecipe:
    """GRPO on one machine, with a cold start and skills (module docstring).

    Args:
        config: the run's settings.
        evolution_hook: what runs after each validation (default: log per-type success).
    """

    def __init__(self, config: LocalTrainConfig, *, evolution_hook: EvolutionHook | None = None) -> None:
        self.config = config
        self.evolution_hook = evolution_hook
        self.step = 0
        self.reward_history: list[float] = []
        self.cold_start_state: dict[str, Any] = {}
        self.resumed_from: Path | None = None
        self.train_pool: EnvPool | None = None
        self.val_pool: EnvPool | None = None
        self.metrics_log: MetricLogger | None = None
        self._sft_data: tuple[list[Any], list[Any]] | None = None
        self.sft_data_path: str | None = None
        self._t_start = time.perf_counter()

    # ================================================================ setup
    def setup(self) -> None:
        """Build everything the run needs; when resuming, :meth:`load` the checkpoint's state.

        Raises:
            ConfigError: a cold start that does not fit the env, or a bad ``resume_from``.
            EpisodesFailedError: the env failed while playing cold-start games.
        """
        cfg, env = self.config, self.config.env
        seed_everything(env.seed)
        self.rng = RunRNG.seeded(env.seed)
        self.device = pick_device(cfg.device)
        if cfg.cpu_threads:
            torch.set_num_threads(cfg.cpu_threads)
        self.out_dir = Path(cfg.output_dir).expanduser()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.spec: EnvSpec = get_env_spec(env.env_name)
        self.style = build_prompt_style(self.spec, env.prompt_style, env.original_repo)
        warn_on_style_mismatch(cfg.model_path, env.prompt_style, log)
        self.scoring = env.scoring
        self.episode_cfg = env.episode
        self.group = env.rollout.n
        resume = self._resume_checkpoint()

        # skills: the seed bank, or the checkpoint's copy at its version (with history and usage)
        bank_path = env.skills.skills_json_path if env.skills else None
        if resume is not None and bank_path is not None:
            bank_path = ckpt.restore_bank_files(resume, self.out_dir / ckpt.BANK_FILE) or bank_path
        self.skills: SkillsSetup = build_skills(env.env_name, skills_json_path=bank_path,
                                                retriever_kwargs=env.skills_only_memory.retriever_kwargs(),
                                                style=self.style)
        self.train_pool = make_env_pool(self.spec, cfg.train_batch_size * self.group, env.factory_kwargs(env.train_split),
                                        cfg.num_env_workers)

        # cold-start data first: the tiny tokenizer's vocabulary comes from it
        done = resume is not None and bool(resume.state.get("cold_start", {}).get("done"))
        if not done:
            self._sft_data = self._cold_start_data()
        pm = build_policy_model(
            str(resume.path) if resume is not None else cfg.model_path, device=self.device, seed=env.seed,
            vocab_texts=example_texts(self._sft_data[0] + self._sft_data[1]) if self._sft_data else (),
            shape=TinyShape(cfg.model_hidden_size, cfg.model_num_layers, cfg.model_num_heads))
        self.model, self.tokenizer, self.tiny = pm.model, pm.tokenizer, pm.tiny
        think = self._think_format()
        vocab = ActionVocabulary(self.tokenizer, self.tokenizer.eos_token_id, think=think) \
            if cfg.constrained_actions else None
        self.constrained = vocab is not None
        self.policy = LocalHFPolicy(self.model, self.tokenizer, max_new_tokens=cfg.max_new_tokens,
                                    temperature=cfg.temperature, max_prompt_tokens=cfg.max_prompt_tokens,
                                    constrain=vocab)
        self.val_policy = LocalHFPolicy(self.model, self.tokenizer, max_new_tokens=cfg.max_new_tokens,
                                        temperature=cfg.val_temperature, max_prompt_tokens=cfg.max_prompt_tokens,
                                        constrain=vocab)
        lr = cfg.lr if cfg.lr is not None else (GRPO_LR_TINY if self.tiny else GRPO_LR_CHECKPOINT)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
        self.ref_model = frozen_copy(self.model) if cfg.kl_coef > 0 else None
        self.evolution = self._build_evolution()
        self.metrics_log = MetricLogger(
            self.out_dir, cfg.loggers, project=cfg.project_name,
            experiment=cfg.experiment_name or f"local_{env.env_name}", config=dataclasses.asdict(cfg),
            resume_step=resume.step if resume is not None else None)
        if resume is not None:
            self.load(resume)

    def _resume_checkpoint(self) -> ckpt.Checkpoint | None:
        where = self.config.resume_from
        if where is None:
            return None
        if where == "auto":
            found = ckpt.latest_checkpoint(self.out_dir)
            if found is None:
                log.info("resume_from=auto: no checkpoint under %s, starting fresh", self.out_dir)
                return None
            where = str(found)
        try:
            return ckpt.read_checkpoint(where)
        except ckpt.CheckpointError as exc:
            raise ConfigError("resume_from", self.config.resume_from, str(exc)) from None

    def _think_format(self) -> bool:
        """Whether the policy's outputs carry a think block (teacher targets always do; the
        format warm-up only where the env's projection asks for one)."""
        if self.config.cold_start not in (FORMAT_COLD_START, NO_COLD_START):
            return True
        probe = self.train_pool.envs[0] if self.train_pool else None
        try:
            probe.reset(seed=0)
            admissible = probe.admissible_actions() or []
        except Exception:  # noqa: BLE001 - an env that cannot reset here fails later with a clear error
            return False
        return bool(admissible) and needs_think(self.spec, admissible[0], admissible)

    def _build_evolution(self) -> Evolution:
        """The evolution component (:func:`skillrl.trainer.evolution.build_evolution`): usage
        counters after every training round, one cycle after each validation. With
        ``enable_dynamic_update`` the bank that evolves is ``OUTPUT_DIR/skill_bank.json`` (where a
        resumed run's bank is restored too); a hook given to the recipe replaces the built one."""
        env = self.config.env
        if self.evolution_hook is not None:
            return Evolution(self.evolution_hook, self.skills.bank)
        return build_evolution(env.skills, bank=self.skills.bank, env_name=env.env_name, taxonomy=self.spec.taxonomy,
                               work_dir=self.out_dir)

    # ================================================================ cold start
    def _cold_start_data(self) -> tuple[list[Any], list[Any]] | None:
        """``(train, held_out)`` examples of the cold start (None: ``none``)."""
        cfg, env = self.config, self.config.env
        kind = cfg.cold_start
        if kind == NO_COLD_START:
            return None
        if kind == FORMAT_COLD_START:
            if cfg.model_path is not None and self._sft_steps() == 0:
                return None
            try:
                examples = sample_format_examples(
                    self.train_pool.envs[0], self.spec, episodes=cfg.warmup_episodes, max_steps=self.episode_cfg.max_steps,
                    history_length=self.episode_cfg.history_length, rng=random.Random(env.seed + FORMAT_SAMPLER_SEED_OFFSET),
                    skill_block=skill_block_fn(self.skills.retriever), style=self.style)
            except Exception as exc:  # these episodes only play the env: its failure ends the run
                log.debug("warm-up sampling failed", exc_info=True)
                raise EpisodesFailedError(f"the {self.spec.name} env failed while playing warm-up episodes: "
                                          f"{type(exc).__name__}: {exc}") from exc
            return examples, []
        folder = Path(kind).expanduser()
        if folder.is_dir() or "/" in kind:
            from skillrl.sft.export import ExportError, read_export

            try:
                data = read_export(folder)
            except ExportError as exc:
                raise ConfigError("cold_start", kind, str(exc)) from None
            if data.manifest.get("env") not in (None, self.spec.name):
                raise ConfigError("cold_start", kind, f"SFT data of env {self.spec.name} "
                                  f"(this folder holds {data.manifest.get('env')})")
            return _split_held_out(data.train, data.val, cfg.warmup_val_games)
        return self._teacher_data(kind)

    def _teacher_data(self, teacher_name: str) -> tuple[list[Any], list[Any]]:
        from skillrl.sft.collect import collect
        from skillrl.sft.teachers import TeacherError, TeacherOptions, build_teacher

        cfg, env = self.config, self.config.env
        try:
            teacher = build_teacher(teacher_name, self.spec, TeacherOptions(rationale=cfg.warmup_rationale))
        except TeacherError as exc:
            raise ConfigError("cold_start", teacher_name, f"a teacher of {self.spec.name}, an export folder, "
                              f"format or none ({exc})") from None
        first = env.seed * COLD_START_SEED_STRIDE
        t0 = time.perf_counter()
        try:
            got = collect(self.spec, teacher, make_env=lambda: self.spec.make(**env.factory_kwargs(env.train_split)),
                          seeds=range(first, first + cfg.warmup_episodes), episode=self.episode_cfg,
                          skills=self.skills.retriever, bank=self.skills.bank, progress=cfg.progress, style=self.style)
        except RuntimeError as exc:
            raise EpisodesFailedError(str(exc)) from exc
        log.info("cold start: teacher %s won %d/%d games (%.1fs), %d turns", teacher.name,
                 sum(ep.won for ep in got.episodes), len(got.episodes), time.perf_counter() - t0, len(got.examples))
        if not got.examples:
            raise EpisodesFailedError(f"teacher {teacher.name} won none of {len(got.episodes)} {self.spec.name} games")
        self._write_sft_data(got.examples, teacher.name)
        return _split_held_out(got.examples, [], cfg.warmup_val_games)

    def _write_sft_data(self, examples: list[Any], teacher: str) -> None:
        """Keep the teacher data beside the run (``OUTPUT_DIR/sft_data/examples.jsonl``)."""
        from skillrl.sft.export import EXAMPLES_FILE

        folder = self.out_dir / "sft_data"
        folder.mkdir(parents=True, exist_ok=True)
        import json

        with open(folder / EXAMPLES_FILE, "w", encoding="utf-8") as fh:
            for ex in examples:
                fh.write(json.dumps({**ex.to_dict(), "split": "train"}, ensure_ascii=False) + "\n")
        self.sft_data_path = str(folder)

    def _sft_steps(self) -> int:
        cfg = self.config
        if cfg.warmup_steps is not None:
            return cfg.warmup_steps
        if cfg.cold_start == FORMAT_COLD_START:
            return FORMAT_STEPS_TINY if cfg.model_path is None else 0
        return 0 if cfg.cold_start == NO_COLD_START else TEACHER_SFT_STEPS

    def cold_start(self) -> dict[str, Any]:
        """Run the cold start (unless a resumed checkpoint already did): SFT steps, held-out
        exact-action accuracy every ``warmup_eval_every`` steps and at the end, then a checkpoint
        at step 0. Returns the cold-start state."""
        if self.cold_start_state.get("done"):
            return self.cold_start_state
        cfg = self.config
        steps = self._sft_steps()
        train_ex, held_out = self._sft_data or ([], [])
        state: dict[str, Any] = {"kind": cfg.cold_start, "steps": 0, "examples": len(train_ex),
                                 "held_out_examples": len(held_out), "done": True}
        if steps > 0 and train_ex:
            state.update(self._run_sft(train_ex, held_out, steps))
        self.cold_start_state = state
        self._sft_data = None
        if state["steps"] > 0:
            self.save(COLD_START_STEP, {k: v for k, v in state.items() if isinstance(v, (int, float))})
        return state

    def _run_sft(self, train_ex: list[Any], held_out: list[Any], steps: int) -> dict[str, Any]:
        from tqdm.auto import tqdm

        cfg = self.config
        lr = cfg.warmup_lr if cfg.warmup_lr is not None else (
            sft.DEFAULT_TINY_SFT_LR if self.tiny else sft.DEFAULT_CHECKPOINT_SFT_LR)
        data = sft.encode(train_ex, self.policy.encode_prompts, encode_target_fn(self.tokenizer))
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=lr)
        batch_rng = random.Random(cfg.env.seed)
        evaluated = held_out[: sft.DEFAULT_HELDOUT_TURNS]
        losses: list[float] = []
        last_eval: dict[str, float] = {}
        t0 = time.perf_counter()
        bar = tqdm(range(1, steps + 1), desc=f"cold start ({cfg.cold_start})", disable=not cfg.progress, leave=False)
        for k in bar:
            losses.append(self.sft_step(optimizer, data, sft.sample_batch(batch_rng, len(data), cfg.warmup_batch_size)))
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
            row = {"sft/loss": losses[-1]}
            if evaluated and ((cfg.warmup_eval_every and k % cfg.warmup_eval_every == 0) or k == steps):
                acc = sft.action_accuracy(self.val_policy, self.spec.project_action, evaluated)
                last_eval = {"sft/heldout_action_accuracy": acc["exact"], "sft/heldout_valid_rate": acc["valid"]}
                row.update(last_eval)
            if k % max(1, steps // 20) == 0 or k == steps or "sft/heldout_action_accuracy" in row:
                self.metrics_log.log_sft(k, row)
        bar.close()
        seconds = time.perf_counter() - t0
        log.info("cold start: %d SFT steps in %.1fs, loss %.3f -> %.3f%s", steps, seconds, losses[0], losses[-1],
                 f", held-out exact-action accuracy {last_eval['sft/heldout_action_accuracy']:.3f}" if last_eval else "")
        return {"steps": steps, "seconds": seconds, "loss_first": losses[0], "loss_last": losses[-1],
                "lr": lr, **{k.split("/", 1)[1]: v for k, v in last_eval.items()}}

    def sft_step(self, optimizer: torch.optim.Optimizer, data: sft.EncodedSFT, indices: list[int]) -> float:
        """One supervised step on ``indices`` of ``data``; returns the loss."""
        return sft.sft_step(self.model, optimizer, data, indices, pad_id=self.tokenizer.pad_token_id)

    # ================================================================ RL
    def train_step(self, step: int) -> dict[str, float]:
        """One GRPO step: ``train_batch_size`` games × ``rollout.n`` rollouts, advantages, a PPO
        update (skipped when every advantage is 0). Returns the step's metrics."""
        cfg = self.config
        t0 = time.perf_counter()
        task_seeds = [self.rng.tasks.randrange(2**31) for _ in range(cfg.train_batch_size)]
        seeds = [s for s in task_seeds for _ in range(self.group)]
        episodes = collect_episodes(self.policy, self.train_pool.envs, self.spec, seeds, skills=self.skills.retriever,
                                    config=self.episode_cfg, style=self.style)
        _require_a_playable_episode(episodes, len(seeds), self.spec.name, f"training step {step}")
        t_rollout = time.perf_counter() - t0
        advantages = episode_advantages([self.scoring.score(ep) for ep in episodes], [ep.seed for ep in episodes])
        self.evolution.observe(episodes, step=step)
        metrics = rollout_metrics(episodes, "train", self.scoring)
        metrics.update(report_metrics(episodes, token_counter(self.tokenizer), skill_block_fn(self.skills.retriever)))
        t1 = time.perf_counter()
        if episodes and has_signal(advantages):
            learn_eps, learn_adv = (informative_episodes(episodes, advantages) if cfg.filter_groups
                                    else (episodes, advantages))
            metrics["train/update_episode_share"] = len(learn_eps) / len(episodes)
            batch = episodes_to_batch(learn_eps, learn_adv, self.tokenizer.pad_token_id)
            old_lp = batch_logprobs(self.model, batch, temperature=cfg.temperature, micro_batch_size=cfg.micro_batch_size)
            ref_lp = (batch_logprobs(self.ref_model, batch, temperature=cfg.temperature,
                                     micro_batch_size=cfg.micro_batch_size) if self.ref_model is not None else None)
            metrics.update(ppo_update(
                self.model, self.optimizer, batch, old_logprobs=old_lp, ref_logprobs=ref_lp, epochs=cfg.ppo_epochs,
                mini_batches=cfg.ppo_mini_batches, micro_batch_size=cfg.micro_batch_size, clip_ratio=cfg.clip_ratio,
                kl_coef=cfg.kl_coef, grad_clip=cfg.grad_clip, temperature=cfg.temperature,
                loss_agg_mode=cfg.loss_agg_mode, rollout_n=self.group, generator=self.rng.ppo))
            metrics["train/num_turns"] = float(batch.size)
            metrics["actor/update_skipped"] = 0.0
        else:
            metrics["actor/update_skipped"] = 1.0
        metrics["time/rollout_s"] = t_rollout
        metrics["time/update_s"] = time.perf_counter() - t1
        metrics["time/step_s"] = time.perf_counter() - t0
        if self.skills.bank is not None:
            metrics["skills/bank_version"] = float(self.skills.bank.version)
        return metrics

    def validate(self, step: int) -> Validation:
        """Play ``val_batch_size`` validation games (fixed seeds) greedily; run the evolution
        component on them. Returns the metrics, per-type success and the episodes."""
        cfg, env = self.config, self.config.env
        if self.val_pool is None:
            self.val_pool = make_env_pool(self.spec, cfg.val_batch_size, env.factory_kwargs(env.val_split),
                                          cfg.num_env_workers)
        seeds = [VAL_SEED_BASE + i for i in range(cfg.val_batch_size)]
        eps = collect_episodes(self.val_policy, self.val_pool.envs, self.spec, seeds, skills=self.skills.retriever,
                               config=self.episode_cfg, style=self.style)
        _require_a_playable_episode(eps, len(seeds), self.spec.name, "validation")
        by_type = success_by_task_type(ep.summary() for ep in eps)
        new_version = self.evolution.after_validation(step, eps)
        metrics = {**success_metrics(by_type, "val"),
                   **{k: v for k, v in rollout_metrics(eps, "val", self.scoring).items() if k != "val/success_rate"}}
        if new_version is not None:
            metrics["skills/bank_version"] = float(new_version)
        return Validation(metrics, by_type, eps)

    # ================================================================ checkpoints
    def save(self, step: int, metrics: dict[str, float]) -> Path:
        """Write ``checkpoints/global_step_<step>`` (model, tokenizer, bank with history and usage,
        trainer state, optimizer and RNG states)."""
        state = {"global_step": step, "metrics": metrics, "config": dataclasses.asdict(self.config),
                 "skills_source": self.skills.source_path, "reward_history": list(self.reward_history),
                 "cold_start": self.cold_start_state, "tiny": self.tiny, "constrained_actions": self.constrained}
        training = {"optimizer": self.optimizer.state_dict(), "rng": capture_rng(self.rng)}
        path = ckpt.save_checkpoint(ckpt.step_dir(self.out_dir, step), model=self.model, tokenizer=self.tokenizer,
                                    bank=self.skills.bank, state=state, training_state=training)
        log.info("checkpoint written to %s", path)
        return path

    def load(self, checkpoint: ckpt.Checkpoint) -> None:
        """Continue from ``checkpoint`` (the model, tokenizer and bank were loaded in :meth:`setup`):
        optimizer and RNG states, step, reward history and cold-start state."""
        training = checkpoint.training_state()
        if training is not None:
            self.optimizer.load_state_dict(training["optimizer"])
            restore_rng(self.rng, training["rng"])
        else:
            log.warning("%s has no %s: optimizer and RNG start fresh", checkpoint.path, ckpt.TRAINING_STATE_FILE)
        self.step = checkpoint.step
        self.reward_history = [float(r) for r in checkpoint.state.get("reward_history", [])]
        self.cold_start_state = dict(checkpoint.state.get("cold_start") or {"done": True})
        self.cold_start_state["done"] = True
        self.resumed_from = checkpoint.path
        bank = self.skills.bank
        log.info("resumed from %s: step %d%s", checkpoint.path, self.step,
                 f", bank version {bank.version}" if bank is not None else "")

    # ================================================================ the loop
    def run(self) -> TrainResult:
        """Cold start, then GRPO steps from the current step to ``total_training_steps``, with
        validation every ``test_freq`` steps and at the end, checkpoints every ``save_freq`` steps
        and at the end."""
        from tqdm.auto import tqdm

        cfg = self.config
        self.cold_start()
        initial = Validation({}, {}, [])
        if cfg.val_before_train and self.step == 0:
            initial = self.validate(0)
            self.metrics_log.log(0, initial.metrics)
        step_metrics: dict[str, float] = {}
        total = cfg.total_training_steps
        bar = tqdm(range(self.step + 1, total + 1), desc="train", disable=not cfg.progress,
                   initial=self.step, total=total)
        for step in bar:
            step_metrics = self.train_step(step)
            self.step = step
            self.reward_history.append(step_metrics.get("train/reward_mean", 0.0))
            if cfg.test_freq > 0 and step % cfg.test_freq == 0 and step < total:
                step_metrics.update(self.validate(step).metrics)
            if cfg.save_freq > 0 and step % cfg.save_freq == 0 and step < total:
                self.save(step, step_metrics)
            self.metrics_log.log(step, step_metrics)
            bar.set_postfix(reward=f"{step_metrics.get('train/reward_mean', 0.0):.2f}")
        bar.close()

        final = self.validate(total)
        self.metrics_log.log(total, {f"final/{k}": v for k, v in final.metrics.items()})
        path = self.save(total, {**step_metrics, **final.metrics})
        bank = self.skills.bank
        return TrainResult(
            final_metrics={**step_metrics, **final.metrics},
            reward_history=list(self.reward_history),
            checkpoint_dir=str(path),
            bank_path=str(path / ckpt.BANK_FILE) if bank is not None else None,
            bank_version=bank.version if bank is not None else None,
            success_by_type=final.by_type,
            initial_success_by_type=initial.by_type,
            skill_ids=sorted({sid for ep in final.episodes for sid in ep.skill_ids}),
            output_dir=str(self.out_dir),
            seconds=time.perf_counter() - self._t_start,
            steps=total,
            cold_start=dict(self.cold_start_state),
            resumed_from=str(self.resumed_from) if self.resumed_from else None,
            data_path=self.sft_data_path,
        )

    # ================================================================ cleanup
    def cleanup(self) -> None:
        """Close the env pools and the metric sinks (safe to call after a failed setup)."""
        for pool in (self.train_pool, self.val_pool):
            if pool is not None:
                pool.close()
        if self.metrics_log is not None:
            self.metrics_log.close()


def train(config: LocalTrainConfig, *, evolution_hook: EvolutionHook | None = None) -> TrainResult:
    """Run the local recipe on ``config`` (see :class:`LocalTrainConfig`).

    Raises:
        EpisodesFailedError: every episode of a rollout or validation round failed in the env.
        ConfigError: a setting that does not fit what it names (cold start, resume folder).
    """
    recipe = LocalRecipe(config, evolution_hook=evolution_hook)
    try:
        recipe.setup()
        return recipe.run()
    finally:
        recipe.cleanup()


def _split_held_out(train: list[Any], val: list[Any], games: int) -> tuple[list[Any], list[Any]]:
    """``(train, held_out)``: ``val`` when given, else the last ``games`` games of ``train``."""
    if val or games <= 0:
        return list(train), list(val)
    from skillrl.sft.export import split_by_game

    kept, held = split_by_game(train, games)
    return (kept, held) if kept else (list(train), [])


def _require_a_playable_episode(episodes: list[Episode], wanted: int, env_name: str, what: str) -> None:
    """Raise :class:`EpisodesFailedError` when none of ``wanted`` episodes ran without an env error
    (failed resets drop episodes, failed steps set ``Episode.error``)."""
    if wanted and all(ep.error is not None for ep in episodes):
        first = next((ep.error for ep in episodes if ep.error), "the env failed on reset (see the warnings above)")
        raise EpisodesFailedError(f"all {wanted} {env_name} episodes of {what} failed in the environment; "
                                  f"first error: {first}")
