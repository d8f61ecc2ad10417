"""The one module that imports verl (0.9.x). verl renames things between minor versions:
when it does, only this file changes.

Algorithm functions (CPU-safe, used by both backends):

- :func:`grpo_advantages` — GRPO outcome advantages over groups of responses.
- :func:`clipped_policy_loss` — PPO clipped surrogate ("vanilla" policy loss).
- :func:`kl_penalty` — per-token KL estimate between policy and reference log-probs.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from verl.trainer.ppo import core_algos as _core_algos


def grpo_advantages(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    group_index: np.ndarray,
    *,
    epsilon: float = 1e-6,
    norm_by_std: bool = True,
) -> torch.Tensor:
    """GRPO outcome advantages.

    Args:
        token_level_rewards: ``(bs, response_len)``; the episode score sits on any token (verl
            sums over the response).
        response_mask: ``(bs, response_len)``, 1 on generated tokens.
        group_index: ``(bs,)`` object/int array; rows with equal ids form one group.
    Returns:
        ``(bs, response_len)`` advantages, zero outside the mask.
    """
    adv, _ = _core_algos.compute_grpo_outcome_advantage(
        token_level_rewards=token_level_rewards,
        response_mask=response_mask,
        index=np.asarray(group_index, dtype=object),
        epsilon=epsilon,
        norm_adv_by_std_in_grpo=norm_by_std,
    )
    return adv


@functools.lru_cache(maxsize=16)
def _actor_config(clip_ratio: float, loss_agg_mode: str, rollout_n: int):
    from verl.workers.config import ActorConfig

    return ActorConfig(
        strategy="fsdp",
        rollout_n=rollout_n,
        ppo_micro_batch_size_per_gpu=1,
        clip_ratio=clip_ratio,
        clip_ratio_low=clip_ratio,
        clip_ratio_high=clip_ratio,
        loss_agg_mode=loss_agg_mode,
        use_torch_compile=False,
    )


def clipped_policy_loss(
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    clip_ratio: float = 0.2,
    loss_agg_mode: str = "token-mean",
    rollout_n: int = 1,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO clipped surrogate loss (verl's ``vanilla`` policy loss); all inputs ``(bs, len)``.

    Returns:
        ``(loss, metrics)`` where loss is a scalar tensor and metrics holds clip fractions
        and approximate KL as floats.
    """
    loss_fn = _core_algos.get_policy_loss_fn("vanilla")
    loss, metrics = loss_fn(
        old_log_prob=old_log_prob,
        log_prob=log_prob,
        advantages=advantages,
        response_mask=response_mask,
        loss_agg_mode=loss_agg_mode,
        config=_actor_config(float(clip_ratio), loss_agg_mode, int(rollout_n)),
    )
    out = {}
    for k, v in (metrics or {}).items():
        try:
            out[k] = float(v.detach().item() if torch.is_tensor(v) else v)
        except (TypeError, ValueError):
            continue
    return loss, out


def kl_penalty(log_prob: torch.Tensor, ref_log_prob: torch.Tensor, kind: str = "low_var_kl") -> torch.Tensor:
    """Per-token KL estimate ``(bs, len)`` between the policy and a reference policy."""
    return _core_algos.kl_penalty(log_prob, ref_log_prob, kind)



# --- the agent-loop / trainer API (heavy: Ray, TransferQueue, hydra) -------------------------
# Imported lazily on first attribute access so that the local backend, which only needs the
# algorithm functions above, never pays for it.

_LAZY = {
    # agent loops (verl/experimental/agent_loop/agent_loop.py)
    "AgentLoopBase": ("verl.experimental.agent_loop.agent_loop", "AgentLoopBase"),
    "AgentLoopOutput": ("verl.experimental.agent_loop.agent_loop", "AgentLoopOutput"),
    "AgentLoopMetrics": ("verl.experimental.agent_loop.agent_loop", "AgentLoopMetrics"),
    "DictConfigWrap": ("verl.experimental.agent_loop.agent_loop", "DictConfigWrap"),
    "agent_loop_registry": ("verl.experimental.agent_loop.agent_loop", "_agent_loop_registry"),
    "TokenOutput": ("verl.workers.rollout.replica", "TokenOutput"),
    "RLHFDataset": ("verl.utils.dataset.rl_dataset", "RLHFDataset"),
    # v1 trainer (verl/trainer/ppo/v1/)
    "PPOTrainerSync": ("verl.trainer.ppo.v1.trainer_sync", "PPOTrainerSync"),
    "register_trainer": ("verl.trainer.ppo.v1.trainer_base", "register_trainer"),
    "get_trainer_cls": ("verl.trainer.ppo.v1.trainer_base", "get_trainer_cls"),
    "AgentLoopWorkerTQ": ("verl.trainer.ppo.v1.agent_loop_tq", "AgentLoopWorkerTQ"),
    "compute_advantage_for_multi_trajectories": (
        "verl.trainer.ppo.v1.utils",
        "compute_advantage_for_multi_trajectories",
    ),
    "DataProto": ("verl.protocol", "DataProto"),
    # checkpoints, metrics
    "find_latest_ckpt_path": ("verl.utils.checkpoint.checkpoint_manager", "find_latest_ckpt_path"),
    "is_distillation_enabled": ("verl.trainer.distillation", "is_distillation_enabled"),
    "rename_dict": ("verl.utils.py_functional", "rename_dict"),
    "reduce_metrics": ("verl.utils.metric", "reduce_metrics"),
    "make_iterator": ("verl.utils.tensordict_utils", "make_iterator"),
    "KVBatchMeta": ("transfer_queue", "KVBatchMeta"),
    # experiment tracking (verl/utils/tracking.py): console, TensorBoard, W&B, MLflow, ...
    "Tracking": ("verl.utils.tracking", "Tracking"),
}


def __getattr__(name: str):
    """Lazy access to verl's agent-loop and trainer classes listed in ``_LAZY``."""
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        value = getattr(importlib.import_module(module_name), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register_agent_loop(name: str, target: str) -> None:
    """Register an agent loop class by dotted path (``pkg.module.Class``) under ``name``.

    verl instantiates registered loops with ``hydra.utils.instantiate({"_target_": target})``,
    so the class module is imported only in the processes that run the loop.
    """
    from verl.experimental.agent_loop.agent_loop import _agent_loop_registry

    _agent_loop_registry[name] = {"_target_": target}


def verl_config_dir() -> str:
    """Folder of verl's own Hydra configs (``ppo_trainer.yaml`` ...)."""
    import os

    import verl.trainer.config as _cfg

    return os.path.dirname(_cfg.__file__)


def validate_trainer_config(config, *, quiet: bool = False) -> None:
    """verl's own config check (``verl.utils.config.validate_config``) on a composed config.

    ``quiet``: keep verl's progress prints off stdout (they go to stderr).

    Raises:
        AssertionError | ValueError: verl's message on an inconsistent config.
    """
    import contextlib
    import sys

    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    with contextlib.redirect_stdout(sys.stderr) if quiet else contextlib.nullcontext():
        validate_config(config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))


def run_ppo(config) -> None:
    """Run verl's v1 PPO entry point (``verl.trainer.main_ppo``): Ray init, TaskRunnerV1, fit.

    Needs GPUs and an inference engine (vLLM/SGLang); see ``skillrl.main`` for the checks.
    """
    from verl.trainer.main_ppo import TaskRunnerV1, run_ppo as _run_ppo
    from verl.utils.device import auto_set_device

    auto_set_device(config)
    validate_trainer_config(config)
    if not config.trainer.use_v1:
        raise ValueError("SkillRL needs verl's v1 trainer: set trainer.use_v1=true")
    _run_ppo(config, task_runner_class=TaskRunnerV1)


def copy_to_remote(files: list[str], remote_folder: str) -> None:
    """Copy local ``files`` into ``remote_folder`` (a local path or ``hdfs://``) with verl's
    ``hdfs_io``, as verl copies model checkpoints to ``trainer.default_hdfs_dir``.

    Raises:
        RuntimeError: a copy failed.
    """
    import os

    from verl.utils import hdfs_io

    hdfs_io.makedirs(remote_folder, exist_ok=True)
    for f in files:
        target = os.path.join(remote_folder, os.path.basename(f))
        ok = hdfs_io.copy(f, target)
        if ok is False:
            raise RuntimeError(f"copying {f} to {target} failed")


def tq_get(keys: list[str], partition_id: str, fields: list[str]) -> dict:
    """``{field: [value per key]}`` read from TransferQueue (the v1 trainer's sample store)."""
    import transfer_queue as tq

    data = tq.kv_batch_get(keys=keys, partition_id=partition_id, select_fields=fields)
    return {f: list(data[f].tolist()) if hasattr(data[f], "tolist") else list(data[f]) for f in fields}


def tq_clear(keys: list[str], partition_id: str) -> None:
    """Remove ``keys`` from TransferQueue."""
    import transfer_queue as tq

    if keys:
        tq.kv_clear(keys=keys, partition_id=partition_id)
