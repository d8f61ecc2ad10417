"""Evolution on the verl path: the trainer builds it from the config over the bank service, counts
skill usage from the training batches' ``reward_extra_info`` and pushes each evolved version to
the service, where an agent-loop worker's retriever cache picks it up at its next episode."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

pytest.importorskip("verl")

from skillrl.skills import SkillBank, build_retriever, read_history  # noqa: E402
from skillrl.trainer import verl_trainer as vt  # noqa: E402
from skillrl.trainer.bank_service import RetrieverCache  # noqa: E402
from skillrl.trainer.verl_agent_loop import reward_extra_info  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "distill"))
import distill_episodes as E  # noqa: E402

ALF_BANK = REPO / "memory_data" / "alfworld" / "skills.json"


class FakeTQ(types.ModuleType):
    """``transfer_queue`` with one partition: keys -> extra_fields (what the v1 worker stores)."""

    def __init__(self, store):
        super().__init__("transfer_queue")
        self.store = store
        self.asked: list[list[str]] = []

    def kv_batch_get(self, *, keys, partition_id, select_fields):
        assert partition_id == "train" and select_fields == ["extra_fields"]
        self.asked.append(list(keys))
        return {"extra_fields": [self.store[k] for k in keys]}


class Batch:
    def __init__(self, keys, tags=None):
        self.keys = keys
        self.tags = tags or [{} for _ in keys]
        self.partition_id = "train"


def _trainer(tmp_path, monkeypatch, overrides):
    from skillrl.trainer import _verl
    from verl_helpers import compose

    bank = tmp_path / "seed.json"
    bank.write_text(ALF_BANK.read_text())
    cfg = compose("skillrl_trainer", ["env=alfworld", "env.use_skills_only_memory=True",
                                      f"env.skills_only_memory.skills_json_path={bank}",
                                      f"trainer.default_local_dir={tmp_path / 'ckpt'}", *overrides])
    t = vt.SkillRLTrainer(cfg)
    monkeypatch.setattr(_verl.PPOTrainerSync, "init", lambda self: None)
    monkeypatch.setattr(_verl.PPOTrainerSync, "_compute_metrics", lambda self, *a, **k: None)
    monkeypatch.setattr(_verl.PPOTrainerSync, "_val_metrics_update", lambda self, *a, **k: {})
    t.init()
    return t, bank


def test_verl_trainer_evolves_through_the_bank_service(tmp_path, monkeypatch):
    t, seed = _trainer(tmp_path, monkeypatch, ["env.skills_only_memory.enable_dynamic_update=true",
                                               "env.skills_only_memory.dedup_model=lexical",
                                               "env.skills_only_memory.update_threshold=0.5"])
    evo = t.evolution
    assert evo.enabled and evo.bank.path == tmp_path / "ckpt" / vt.EVOLVING_BANK_DIR / "skill_bank.json"
    worker = RetrieverCache(t.bank_service, lambda text, v: build_retriever(
        SkillBank.from_dict(json.loads(text)), taxonomy=__import__("agent_system.environments", fromlist=["x"])
        .get_env_spec("alfworld").taxonomy))
    goal = "Your task is to: heat some egg and put it in countertop."
    before = worker.get().retrieve(goal, "heat")
    gen = before.general[0]

    # a training step: 4 GRPO sessions of one heat game, 2 turns each, plus a padding row
    store, keys = {}, []
    for session in range(4):
        ep = E.heat_skipped(session, skill_ids=(gen,))
        for turn in range(2):
            key = f"uid7_{session}_{turn}"
            store[key] = {"reward_extra_info": reward_extra_info(ep)}
            keys.append(key)
    keys.append("pad_0_0")
    tq = FakeTQ(store)
    monkeypatch.setitem(sys.modules, "transfer_queue", tq)
    t._compute_metrics(Batch(keys, [{}] * 8 + [{"is_padding": True}]), {}, {}, global_steps=3, epoch=0)
    assert tq.asked == [["uid7_0_0", "uid7_1_0", "uid7_2_0", "uid7_3_0"]]  # one read per session
    u = evo.bank.usage(gen)
    assert (u.times_retrieved, u.episodes_lost) == (4, 4)

    # validation: heat below the threshold -> a cycle from the training episodes -> pushed
    t.global_steps = 4
    infos = {"won": [0.0, 1.0], "task_type": ["heat", "cool"],
             "episode": [E.heat_skipped(90).to_json(), E.heat_success(91).to_json()], "skill_ids": ["", ""]}
    t._val_metrics_update(["d"] * 2, ["u"] * 2, infos, [2, 2])
    t.on_validate_end()
    assert t.bank_service.current_version() == 1
    hist = read_history(evo.bank.path)
    assert hist and {r.step for r in hist} == {4}
    assert all(e.startswith("train@step3/") for r in hist for e in r.episode_ids)
    added = [r.skill_id for r in hist if r.op == "add"]
    after = worker.get().retrieve(goal, "heat")  # a worker's next episode
    assert worker.version == 1 and set(added) <= set(after.skill_ids)
    assert json.loads(seed.read_text()) == json.loads(ALF_BANK.read_text())  # the seed is untouched


def test_verl_trainer_with_evolution_off_still_counts_usage(tmp_path, monkeypatch):
    t, _ = _trainer(tmp_path, monkeypatch, [])
    assert not t.evolution.enabled and t.evolution.bank is not None
    monkeypatch.setitem(sys.modules, "transfer_queue", FakeTQ({"u_0_0": {"reward_extra_info": {
        "won": 1.0, "task_type": "heat", "skill_ids": "gen_001", "episode": ""}}}))
    t._compute_metrics(Batch(["u_0_0"]), {}, {}, global_steps=1, epoch=0)
    assert t.evolution.bank.usage("gen_001").episodes_won == 1  # usage counters still filled
    t._last_report = vt.validation_report(2, {"won": [0.0], "task_type": ["heat"], "episode": [""]})
    t.on_validate_end()
    assert t.bank_service.current_version() == 0


def test_a_broken_store_never_stops_training(tmp_path, monkeypatch, caplog):
    t, _ = _trainer(tmp_path, monkeypatch, [])

    class Broken(types.ModuleType):
        def kv_batch_get(self, **kw):
            raise RuntimeError("store is gone")

    monkeypatch.setitem(sys.modules, "transfer_queue", Broken("transfer_queue"))
    t._compute_metrics(Batch(["u_0_0"]), {}, {}, global_steps=1, epoch=0)
    assert "could not read the batch's episodes" in caplog.text
