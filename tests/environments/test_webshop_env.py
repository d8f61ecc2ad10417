"""The text WebShop: catalogue and goals, search, pages, env protocol, projection, prompt."""

from __future__ import annotations

import asyncio

import pytest

from agent_system.environments import INFO_KEYS, EpisodeFinishedError, PromptContext, get_env_spec
from agent_system.environments.webshop import SPEC, Purchase, ShopState, WebShopEnv, load_catalog
from agent_system.environments.webshop.catalog import build_catalog
from agent_system.environments.webshop.projection import project_action
from agent_system.environments.webshop.prompt import build_prompt
from agent_system.environments.webshop.search import ProductSearch
from skillrl.utils.paths import DataNotFoundError, resolve_data_dir


def say(action: str) -> str:
    return f"<think>test</think><action>{action}</action>"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture()
def env(catalog):
    e = WebShopEnv(catalog=catalog, split="test")
    yield e
    e.close()


# --- catalogue and goals ---------------------------------------------------------------------
def test_synthetic_goal_count_and_fields(catalog):
    assert len(catalog.products) == 1000
    assert len(catalog.goals) == 6910
    goal = catalog.goals[0]
    assert set(goal) == {"asin", "category", "query", "name", "product_category", "instruction_text",
                         "attributes", "price_upper", "goal_options", "weight"}
    product = catalog.by_asin[goal["asin"]]
    assert goal["name"] == product["Title"]
    assert set(goal["goal_options"]) == set(product["options"])
    assert catalog.prices[goal["asin"]] <= goal["price_upper"]
    assert {g["category"] for g in catalog.goals} <= set(SPEC.task_types)


def test_goals_are_deterministic_and_follow_the_text_rule(catalog):
    again = build_catalog(resolve_data_dir("webshop"))
    assert [g["instruction_text"] for g in again.goals[:50]] == [g["instruction_text"] for g in catalog.goals[:50]]
    for g in catalog.goals[:200]:
        opts = ", and ".join(f"{k}: {v}" for k, v in g["goal_options"].items())
        if opts:
            assert f" with {opts}" in g["instruction_text"]
        if g["price_upper"] != 1000000:
            assert g["instruction_text"].endswith(f", and price lower than {g['price_upper']:.2f} dollars")
            assert g["price_upper"] % 10 == 0


def test_human_goals(catalog):
    human = build_catalog(catalog.data_dir, goals="human")
    assert len(human.goals) == 13
    assert all(isinstance(g["goal_options"], list) and g["weight"] == 1 for g in human.goals)


def test_splits(catalog):
    assert len(catalog.split_indices("test")) == 500
    assert len(catalog.split_indices("train")) == 6410
    with pytest.raises(ValueError, match="split"):
        catalog.split_indices("valid")


# --- search ----------------------------------------------------------------------------------
def test_search_finds_a_product_by_its_name(catalog):
    engine = ProductSearch.for_catalog(catalog)
    named = [p for p in catalog.products if p["Title"]][:200]
    top1 = sum(engine.search(p["Title"])[:1] == [p["asin"]] for p in named)
    assert top1 >= 195
    assert all(p["asin"] in engine.search(p["Title"])[:10] for p in named)
    assert len(engine.search("women")) == 50
    assert engine.search("") == [] and engine.search("zzqxv") == []


# --- env protocol ----------------------------------------------------------------------------
def test_oracle_episode_step_by_step(env, catalog):
    obs, info = env.reset(seed=3)
    assert set(INFO_KEYS) <= set(info)
    goal = env.goal
    assert info["task"] == goal["instruction_text"] and info["task_type"] == goal["category"]
    assert obs == f"WebShop [SEP] Instruction: [SEP] {goal['instruction_text']} [SEP] Search"
    assert env.admissible_actions() == ["search[<your query>]"]

    obs, r, done, info = env.step(say(f"search[{goal['name']}]"))
    assert info["is_action_valid"] and not done and r == 0.0
    assert obs.startswith("Back to Search [SEP] Page 1 (Total results: ")
    assert f"click[{goal['asin'].lower()}]" in env.admissible_actions()

    obs, _, _, _ = env.step(say(f"click[{goal['asin']}]"))  # case does not matter
    product = catalog.by_asin[goal["asin"]]
    assert obs.startswith("Back to Search [SEP] < Prev")
    assert obs.endswith("Description [SEP] Features [SEP] Reviews [SEP] Buy Now")
    assert f"Price: {product['Price']}" in obs
    for name, value in goal["goal_options"].items():
        _, _, _, info = env.step(say(f"click[{value}]"))
        assert info["is_action_valid"]
        assert env.session.options[name] == value

    obs, _, _, _ = env.step(say("click[Features]"))
    assert obs.startswith("Back to Search [SEP] < Prev")
    assert env.admissible_actions() == ["click[back to search]", "click[< prev]"]
    env.step(say("click[< prev]"))
    assert env.session.page == "item" and env.session.options == dict(goal["goal_options"])

    obs, r, done, info = env.step(say("click[buy now]"))
    assert done and r == 1.0 and info["won"] is True
    purchase = info.extra.purchase
    assert isinstance(info.extra, ShopState) and info.extra.page == "done" and info["purchase"] is purchase
    assert isinstance(purchase, Purchase) and purchase.asin == goal["asin"] and purchase.task_score == 1.0
    assert purchase.reward_info["r_type"] == 1.0 and purchase.options == dict(goal["goal_options"])
    assert obs.startswith("Thank you for shopping with us!")
    assert env.admissible_actions() == []
    with pytest.raises(EpisodeFinishedError):
        env.step(say("click[buy now]"))


def test_invalid_actions_do_not_raise_and_change_nothing(env):
    obs0, _ = env.reset(seed=0)
    for bad in ["", "search[shoes]", "<think>x</think>", "<think>x</think><action>jump</action>",
                "<action>search[shoes]</action>", "<think>x</think><action>click[buy now]</action>",
                "<think>x</think><action>search[]</action>", None]:
        obs, r, done, info = env.step(bad)  # type: ignore[arg-type]
        assert not info["is_action_valid"] and r == 0.0 and not done
        assert obs == f"Invalid action: {project_action(bad, ['search[<your query>]']).reason}. {obs0}"  # type: ignore[arg-type]
        assert set(INFO_KEYS) <= set(info) and info.extra.page == "search" and info.extra.purchase is None
    env.step(say("search[shoes]"))
    _, _, _, info = env.step(say("search[socks]"))  # no search bar on the results page
    assert not info["is_action_valid"]
    _, _, _, info = env.step(say("click[description]"))  # not on this page
    assert not info["is_action_valid"] and env.session.page == "results"


def test_pagination(env):
    env.reset(seed=0)
    obs, *_ = env.step(say("search[women]"))
    assert "Page 1 (Total results: 50)" in obs and "Next >" in obs and "< Prev" not in obs
    acts = env.admissible_actions()
    assert acts[:2] == ["click[back to search]", "click[next >]"] and len(acts) == 12
    first_page = set(acts[2:])
    for page in range(2, 6):
        obs, *_ = env.step(say("click[next >]"))
        assert f"Page {page} (Total results: 50)" in obs and "< Prev" in obs
    assert "click[next >]" not in env.admissible_actions()
    for _ in range(4):
        env.step(say("click[< prev]"))
    assert env.session.page_num == 1 and set(env.admissible_actions()[2:]) == first_page
    env.step(say("click[back to search]"))
    assert env.session.page == "search" and env.admissible_actions() == ["search[<your query>]"]


def test_reset_by_task_and_seed(env, catalog):
    _, info = env.reset(task="42")
    assert info["game_id"] == "42" and env.goal is catalog.goals[42]
    _, a = env.reset(seed=7)
    _, b = env.reset(seed=7)
    assert a["game_id"] == b["game_id"] == "7"
    train = WebShopEnv(catalog=catalog, split="train")
    _, info = train.reset(seed=0)
    assert info["game_id"] == "500"
    with pytest.raises(ValueError, match="goal index"):
        env.reset(task="shoes")
    _, info = env.reset()  # weighted draw
    assert int(info["game_id"]) < 500


def test_missing_data_dir(tmp_path):
    with pytest.raises(DataNotFoundError, match="WEBSHOP_DATA"):
        WebShopEnv(data_dir=str(tmp_path / "nope"))
    with pytest.raises(DataNotFoundError, match="products_1k.json"):
        WebShopEnv(data_dir=str(tmp_path))


def test_factory_rejects_unknown_settings():
    with pytest.raises(ValueError, match="unknown webshop env setting 'goal'.*did you mean 'goals'"):
        SPEC.make(split="test", goal="human")


def test_run_episode_with_the_agent_loop(catalog):
    from skillrl.agent.episode import Generation
    from skillrl.agent.loop import EpisodeConfig, run_episode

    made = SPEC.make(split="train")
    assert isinstance(made, WebShopEnv) and made.split == "train"
    made.close()
    env = WebShopEnv(catalog=catalog)
    prompts: list[str] = []

    class Scripted:
        def __init__(self):
            self.actions = None

        async def generate(self, prompt: str) -> Generation:
            prompts.append(prompt)
            goal = env.goal
            if self.actions is None:
                self.actions = [f"search[{goal['name']}]", f"click[{goal['asin'].lower()}]",
                                *(f"click[{v}]" for v in goal["goal_options"].values()), "click[buy now]"]
            return Generation(text=say(self.actions.pop(0)))

    class Skills:
        bank_version = 1

        def retrieve(self, task, task_type=None):
            class R:
                text = "SKILL-BLOCK"
                skill_ids = ("s1",)
            return R()

    ep = asyncio.run(run_episode(env, get_env_spec("webshop"), Scripted(), seed=5, skills=Skills(),
                                 config=EpisodeConfig(max_steps=15, history_length=2)))
    assert ep.won and ep.reward == 1.0 and not ep.truncated
    assert all("\n\nSKILL-BLOCK\n\n" in p for p in prompts) and len(prompts) == len(ep.steps)
    assert "search[<your query>]" in prompts[0] and "Action 1: 'search[" in prompts[1]


# --- projection and prompt -------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,admissible,action,valid",
    [
        ("<think>a</think><action>click[Buy Now]</action>", ["click[buy now]"], "click[buy now]", True),
        ("<think>a</think><action> search[ Red  Shoes ] </action>", ["search[<your query>]"], "search[red shoes]", True),
        ("<think>a</think><action>search[x]</action>", ["click[buy now]"], "search[x]", False),
        ("<think>a</think><action>click[next >]</action>", ["click[buy now]"], "click[next >]", False),
        ("<think>a <action>click[x]</action></think><action>click[buy now]</action>", None, "click[buy now]", True),
        ("<think>a</think><action>click[b17-wine red]</action>", ["click[b17-wine\xa0red]"], "click[b17-wine\xa0red]", True),
        ("<think>a</think><action>buy</action>", None, "buy", False),
        ("<action>click[buy now]</action>", None, "click[buy now]", False),
        ("no tags", None, "", False),
    ],
)
def test_projection(text, admissible, action, valid):
    parsed = SPEC.project_action(text, admissible)
    assert (parsed.action, parsed.valid) == (action, valid)
    assert parsed.valid or parsed.reason


def test_prompt_has_skills_task_history_observation_actions():
    ctx = PromptContext(task="buy socks", observation="OBS-NOW", admissible_actions=("click[buy now]",),
                        history=(("o1", "a1"), ("o2", "a2"), ("o3", "a3")), skill_block="SKILLS", turn=3,
                        history_length=2)
    p = build_prompt(ctx)
    assert p.index("Action 3: 'a3'") < p.index("Your task is to: buy socks.") < p.index("SKILLS") < p.index("OBS-NOW")
    assert "'a1'" not in p and "Action 2: 'a2'" in p and "Action 3: 'a3'" in p
    assert "step 4" in p and "OBS-NOW" in p and "'click[buy now]'" in p and "<action>" in p
    assert project_action("<think>x</think><action>click[buy now]</action>", ctx.admissible_actions).valid


@pytest.mark.parametrize("module", ["reward", "projection", "prompt"])
def test_doctests(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"agent_system.environments.webshop.{module}"))
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.slow
def test_perfect_purchase_bound(catalog):
    """The formula's own ceiling over every goal (the oracle's score is checked in tests/eval)."""
    from agent_system.environments.webshop.reward import webshop_reward

    total = sum(
        webshop_reward(catalog.by_asin[g["asin"]], g, catalog.prices[g["asin"]], dict(g["goal_options"])).reward
        for g in catalog.goals
    )
    assert total / len(catalog.goals) > 0.985
