"""Policies of the agent loop: the TurnView hook, policy errors, the registry, scripted and perturbed actors."""

from __future__ import annotations

import asyncio

import pytest

from agent_system.environments import StepInfo, TurnView, get_env_spec
from agent_system.environments.alfworld import policies as alf
from agent_system.environments.scripts import PERTURBED, tagged
from agent_system.environments.search.env import SearchProgress
from agent_system.environments.webshop.env import ShopState
from skillrl.agent import EpisodeConfig, Generation, ObservingPolicy, PolicyError, run_episode
from skillrl.policies import MODEL_FORMS, PolicyLoadError, ScriptedPolicy, load_policy, parse_policy, policy_choices

TOY = get_env_spec("toy")


def _play(policy, seed=3, **kw):
    env = TOY.make()
    try:
        return asyncio.run(run_episode(env, TOY, policy, seed=seed, config=EpisodeConfig(max_steps=2), **kw))
    finally:
        env.close()


class Recorder:
    """An observing policy that records what the loop shows it and plays the toy oracle."""

    def __init__(self):
        self.calls: list[tuple[str, TurnView]] = []

    async def act(self, prompt, view):
        self.calls.append((prompt, view))
        return Generation(TOY.play.scripts["oracle"].make(0).act(view))


def test_observing_policy_gets_a_turn_view_of_every_turn():
    rec = Recorder()
    assert isinstance(rec, ObservingPolicy)
    ep = _play(rec)
    assert ep.won and ep.num_turns == 2 == len(rec.calls)
    (p0, v0), (p1, v1) = rec.calls
    assert [v0.turn, v1.turn] == [0, 1] and p0 == ep.steps[0].prompt and p1 == ep.steps[1].prompt
    assert isinstance(v0.info, StepInfo) and v0.info.task == ep.task and v0.info.action == ""
    assert v0.admissible_actions == ("go to kitchen", "go to garden", "go to office", "go to garage")
    assert v1.info.action == ep.steps[0].action and v1.observation == ep.steps[0].observation
    assert all(a.startswith("take ") for a in v1.admissible_actions)


class Failing:
    def __init__(self, after):
        self.after = after
        self.calls = 0

    async def generate(self, prompt):
        self.calls += 1
        if self.calls > self.after:
            raise ConnectionError("endpoint gone")
        return Generation("<action>go to garden</action>")


def test_policy_errors_propagate_unless_asked_to_end_the_episode():
    with pytest.raises(ConnectionError):
        _play(Failing(0))
    ep = _play(Failing(1), end_on_policy_error=True)
    assert ep.error == "policy: ConnectionError: endpoint gone" and ep.num_turns == 1 and not ep.won
    assert not ep.truncated and ep.steps[0].action == "go to garden"
    assert issubclass(PolicyError, Exception)


def test_scripted_policy_needs_the_hook_and_labels_perturbed_episodes():
    spec = get_env_spec("webshop")
    loaded = load_policy(spec, "perturbed:invalid_action")
    pol = loaded.for_episode(7)
    assert isinstance(pol, ScriptedPolicy) and pol.metadata == {"failure_kind": "invalid_action"}
    with pytest.raises(TypeError, match="reads the env's state"):
        asyncio.run(pol.generate("prompt"))
    assert load_policy(spec, "oracle").for_episode(0).metadata == {}
    assert loaded.scripted and loaded.describe["failure_kinds"] == ["invalid_action"]


def test_registry_names_and_errors():
    assert parse_policy(TOY, "random") == ("scripted", "random")
    assert parse_policy(TOY, "ckpt:out/run") == ("ckpt", "out/run")
    assert parse_policy(TOY, "openai:gpt-4o-mini") == ("openai", "gpt-4o-mini")
    assert policy_choices(TOY) == ["oracle", "random", *MODEL_FORMS]
    with pytest.raises(PolicyLoadError, match=r"unknown toy policy 'expert'; choose one of: oracle, random, hf:PATH"):
        parse_policy(TOY, "expert")
    with pytest.raises(PolicyLoadError, match="unknown toy policy 'bogus:x'"):
        parse_policy(TOY, "bogus:x")
    assert load_policy(TOY, None).name == "oracle"  # the env's first script is the default
    with pytest.raises(PolicyLoadError, match="hf:/no/such/model: no such model folder"):
        load_policy(TOY, "hf:/no/such/model")
    with pytest.raises(PolicyLoadError, match="no checkpoint"):
        load_policy(TOY, "ckpt:/tmp")


def test_every_env_names_scripts_that_build():
    for name in ("alfworld", "webshop", "search", "toy"):
        spec = get_env_spec(name)
        assert spec.play is not None and spec.play.default_script in spec.play.scripts
        for script_name, script in spec.play.scripts.items():
            actor = script.make(0)
            assert hasattr(actor, "act") and hasattr(actor, "failure_kind"), script_name
            if script_name.startswith(f"{PERTURBED}:"):
                assert script.failure_kinds == (script_name.split(":", 1)[1],)


# --- ALFWorld perturbed actors on hand-made views ----------------------------------------------------
def _view(expert, admissible, task="put a hot apple in fridge.", task_type="heat", turn=0):
    from agent_system.environments.alfworld.env import ALFWorldState

    info = StepInfo(won=False, task_type=task_type, is_action_valid=True, task=task, game_id="g",
                    extra=ALFWorldState(gamefile="g", expert_action=expert))
    return TurnView("obs", info, tuple(admissible), turn)


def test_alfworld_wrong_object_takes_another_kind():
    actor = alf.WrongObject(0)
    adm = ["take apple 1 from countertop 1", "take apple 2 from countertop 1", "take knife 1 from countertop 1", "go to sink 1"]
    assert actor.act(_view("take apple 1 from countertop 1", adm)) == tagged("take knife 1 from countertop 1")
    assert actor.act(_view("go to fridge 1", adm)) == tagged("go to fridge 1")  # other steps: the expert's
    assert actor.act(_view("take apple 1 from countertop 1", adm[:2] + ["go to sink 1"])) == tagged("go to sink 1")


def test_alfworld_skipped_appliance_places_without_heating():
    actor = alf.SkippedAppliance(0)
    assert actor.act(_view("go to microwave 1", ["go to microwave 1"])) == tagged("go to microwave 1")
    adm = ["heat apple 1 with microwave 1", "go to fridge 1", "go to sink 1", "look"]
    assert actor.act(_view("heat apple 1 with microwave 1", adm)) == tagged("go to fridge 1")
    adm = ["move apple 1 to fridge 1", "open fridge 1", "heat apple 1 with microwave 1", "look"]
    assert actor.act(_view("go to microwave 1", adm)) == tagged("move apple 1 to fridge 1")
    for _ in range(10):  # then it wanders, never using an appliance, never taking or placing
        out = actor.act(_view("heat apple 1 with microwave 1", adm + ["take egg 1 from fridge 1"]))
        assert out in (tagged("open fridge 1"), tagged("look"))


def test_alfworld_loop_repeat_and_invalid():
    loop = alf.LoopTwoLocations(1)
    adm = ["go to desk 1", "go to shelf 1", "look"]
    assert loop.act(_view("look", adm)) == tagged("look")
    moves = [loop.act(_view("go to desk 1", adm, turn=t)) for t in range(1, 6)]
    assert moves == [tagged("go to desk 1"), tagged("go to shelf 1")] * 2 + [tagged("go to desk 1")]
    rep = alf.RepeatedAction(0)
    outs = [rep.act(_view("go to desk 1", adm, turn=t)) for t in range(8)]
    assert outs[-1] == outs[-2] == outs[-3] == tagged("look") and outs[0] == tagged("go to desk 1")
    assert alf.InvalidAction(0).act(_view("take apple 1 from desk 1", adm)) == tagged("grab apple 1 from desk 1")


def test_alfworld_expert_never_sends_the_hidden_help_command():
    """alfworld's expert falls back on a random admissible command, ``help`` included; the env
    rejects ``help`` without a game step, so the expert would ask for it on every turn after."""
    adm = ["go to desk 1", "look"]
    expert = get_env_spec("alfworld").play.scripts["expert"].make(0)
    assert expert.act(_view("help", adm)) == tagged("look")
    assert expert.act(_view("go to desk 1", adm)) == tagged("go to desk 1")
    assert alf.Expert().act(_view("help", adm)) == tagged("look")
    assert alf.Expert().act(_view("", adm)) == tagged("look")
    assert alf.Expert().act(_view("go to desk 1", adm)) == tagged("go to desk 1")
    assert alf.InvalidAction(0).act(_view("help", adm)) == tagged("please look")


def test_alfworld_perturbed_draws_an_applicable_kind_from_the_seed():
    script = get_env_spec("alfworld").play.scripts[PERTURBED]
    kinds = {_first_kind(script, s, "pick_and_place") for s in range(40)}
    assert "skipped_appliance" not in kinds and len(kinds) == 4  # a pick task needs no appliance
    heat = {_first_kind(script, s, "heat") for s in range(40)}
    assert "skipped_appliance" in heat
    assert _first_kind(script, 5, "heat") == _first_kind(script, 5, "heat")  # fixed by the seed


def _first_kind(script, seed, task_type):
    actor = script.make(seed)
    actor.act(_view("look", ["look"], task_type=task_type))
    return actor.failure_kind


# --- WebShop / Search actors on hand-made views --------------------------------------------------------
def _shop(page, admissible, goal_options=("red",), product=None, turn=0):
    info = StepInfo(won=False, task_type="fashion", is_action_valid=True, task="a red shirt", game_id="0",
                    extra=ShopState(page=page, product=product, selected={}, goal_asin="B000000001",
                                    goal_options=goal_options, goal_queries=("a red shirt", "shirt")))
    return TurnView("obs", info, tuple(admissible), turn)


def test_webshop_applicable_kinds_follow_the_goal_options():
    from agent_system.environments.webshop.policies import applicable

    assert set(applicable(_shop("search", ["search[<your query>]"]))) == {
        "premature_purchase", "wrong_object", "loop_two_locations", "repeated_action", "invalid_action"}
    assert "premature_purchase" not in applicable(_shop("search", [], goal_options=()))


def test_webshop_premature_purchase_buys_before_options():
    actor = get_env_spec("webshop").play.scripts["perturbed:premature_purchase"].make(0)
    assert actor.act(_shop("search", ["search[<your query>]"])) == tagged("search[a red shirt]")
    item = ["click[back to search]", "click[< prev]", "click[red]", "click[buy now]"]
    assert actor.act(_shop("item", item, product="B000000001")) == tagged("click[buy now]")
    oracle = get_env_spec("webshop").play.scripts["oracle"].make(0)
    oracle.act(_shop("search", ["search[<your query>]"]))
    assert oracle.act(_shop("item", item, product="B000000001")) == tagged("click[red]")


def test_search_actors():
    info = StepInfo(won=False, task_type="nq", is_action_valid=True, task="who?", game_id="0",
                    extra=SearchProgress(turn=0, em=0.0, f1=0.0, golds=("Ada",)))
    scripts = get_env_spec("search").play.scripts
    v0, v1 = TurnView("who?", info, None, 0), TurnView("<information>Doc 1(Title: X) y</information>", info, None, 1)
    oracle = scripts["oracle"].make(0)
    assert "<search>who?</search>" in oracle.act(v0) and "<answer>Ada</answer>" in oracle.act(v1)
    assert "<answer>X</answer>" in scripts["random"].make(0).act(v1)
    assert "<answer>" in scripts["perturbed:answer_without_search"].make(0).act(v0)
    assert "<search>" not in scripts["perturbed:invalid_action"].make(0).act(v0)
