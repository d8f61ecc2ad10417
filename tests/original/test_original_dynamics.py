"""The envs' ``style="original"``: raw observation text as the original's env package gives it, the
original's projection, and every projected action played (invalid ones included); the native path
is unchanged. ALFWorld observations are checked byte for byte against the goldens' raw env outputs."""

from __future__ import annotations

import json
import re

import pytest
from original_helpers import golden_rows

from agent_system.environments.base import get_env_spec
from agent_system.environments.original_style import check_env_style
from agent_system.environments.search.data import QARow
from agent_system.environments.search.env import SearchEnv
from agent_system.environments.search.original import format_tool_output, split_action
from skillrl.utils.paths import DataNotFoundError, resolve_data_dir

THINK = "<think>ok</think>"


def _have(env: str) -> bool:
    try:
        resolve_data_dir(env)
    except DataNotFoundError:
        return False
    return True


def test_unknown_style_is_one_error_naming_the_env():
    with pytest.raises(ValueError, match=r"unknown search env style 'orig'; known: native, original"):
        check_env_style("search", "orig")
    assert "style" in get_env_spec("alfworld").make.settings
    assert "style" in get_env_spec("webshop").make.settings
    assert "style" in get_env_spec("search").make.settings


# --- ALFWorld -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def alfworld_envs():
    if not _have("alfworld"):
        pytest.skip("no ALFWorld data")
    spec = get_env_spec("alfworld")
    envs = {style: spec.make(split="valid_seen", style=style) for style in ("native", "original")}
    yield envs
    for env in envs.values():
        env.close()


def _alf_case(name: str) -> dict:
    return next(r for r in golden_rows("alfworld") if r["case"] == name)


def test_alfworld_original_observations_are_the_raw_game_text(alfworld_envs):
    """Replaying a golden episode's model outputs gives the golden's raw observations, banner included,
    and the original projection's actions and validity flags."""
    case = _alf_case("alf_find_two_t4_h3_no_skills")  # has a malformed output executed as '1 to make progress…'
    inputs = case["inputs"]
    env = alfworld_envs["original"]
    obs, info = env.reset(task=inputs["gamefile"])
    assert obs == inputs["observations"][0] and obs.startswith("-= Welcome to TextWorld, ALFRED! =-")
    assert info.task == inputs["task"].rstrip(".") or info.task == inputs["task"]
    for k, output in enumerate(inputs["model_outputs"]):
        obs, reward, done, info = env.step(output)
        assert obs == inputs["observations"][k + 1], f"observation after step {k + 1}"
        assert (info.action, int(info.is_action_valid)) == (inputs["actions"][k], inputs["action_valid"][k])
    assert not done and reward == 0.0


def test_alfworld_invalid_output_is_played_in_the_original_style_only(alfworld_envs):
    game = _alf_case("alf_turn0_no_skills")["inputs"]["gamefile"]
    text = "I will go to the sinkbasin 1"  # no tags: the original plays the last 30 characters
    native, original = alfworld_envs["native"], alfworld_envs["original"]
    native.reset(task=game)
    obs, _, _, info = native.step(text)
    assert not info.is_action_valid and obs.startswith("Invalid action:") and native.turn == 1
    original.reset(task=game)
    obs, _, _, info = original.step(text)
    assert not info.is_action_valid and info.action == "i will go to the sinkbasin 1"
    assert obs == "Nothing happens."  # TextWorld's answer to a command it does not know
    # a well-formed but non-admissible action is valid for the original (admissibility is never checked)
    obs, _, _, info = original.step(f"{THINK}<action>Pick Up The Mug</action>")
    assert info.is_action_valid and info.action == "pick up the mug" and obs == "Nothing happens."
    # the native reset observation keeps its own shape (no banner)
    obs, _ = native.reset(task=game)
    assert not obs.startswith("-=") and "Your task is to:" in obs


# --- WebShop --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def webshop_catalog():
    if not _have("webshop"):
        pytest.skip("no WebShop data")
    from agent_system.environments.webshop import load_catalog

    return load_catalog()


def _webshop(catalog, style):
    from agent_system.environments.webshop import WebShopEnv

    return WebShopEnv(catalog=catalog, split="test", style=style)


def _first_product(env) -> str:
    return next(a for a in env.admissible_actions() if re.fullmatch(r"click\[b[0-9a-z]{9}\]", a))


def test_webshop_original_pages_and_actions(webshop_catalog):
    env = _webshop(webshop_catalog, "original")
    obs, info = env.reset(seed=3)
    task = info.task
    assert obs == f"WebShop [SEP] Instruction: [SEP] {task} [SEP] Search"
    assert env.admissible_actions() == ["search[<your query>]", "click[search]"]
    # click[search] is listed but does nothing, as in the original text env
    obs2, _, _, info = env.step(f"{THINK}<action>click[search]</action>")
    assert obs2 == obs and info.is_action_valid
    obs, _, _, info = env.step(f"{THINK}<action>search[{' '.join(task.split()[:4])}]</action>")
    assert obs.startswith(f"Instruction: [SEP] {task} [SEP] Back to Search [SEP] Page 1 (Total results: ")
    asin = _first_product(env)
    obs, _, _, _ = env.step(f"{THINK}<action>{asin.upper()}</action>")  # the projection lower-cases
    assert " [SEP] Buy Now" in obs and obs.startswith(f"Instruction: [SEP] {task} [SEP] Back to Search [SEP] < Prev")
    item = obs
    # an unknown click and a non-command leave the page as it is (and are played, not rejected)
    for text in (f"{THINK}<action>click[buy it]</action>", "Buy The First One Please"):
        obs, reward, done, info = env.step(text)
        assert (obs, reward, done) == (item, 0.0, False)
    assert not info.is_action_valid and info.action == "the first one please"  # the last 20 characters
    # a search from the item page runs (the original's text env searches from any page)
    obs, _, _, _ = env.step(f"{THINK}<action>search[socks]</action>")
    assert "Page 1 (Total results:" in obs
    # a click flagged invalid (no think block) is still played
    asin = _first_product(env)
    obs, _, _, info = env.step(f"<action>{asin}</action>")
    assert not info.is_action_valid and "Buy Now" in obs
    obs, reward, done, info = env.step(f"{THINK}<action>click[buy now]</action>")
    assert done and 0.0 <= reward <= 1.0 and info.is_action_valid
    env.close()


def test_webshop_empty_reviews_page_shows_nothing_in_the_original_style(webshop_catalog):
    pages = {}
    for style in ("native", "original"):
        env = _webshop(webshop_catalog, style)
        env.reset(seed=5)
        env.step(f"{THINK}<action>search[shirt]</action>")
        asin = _first_product(env)
        env.step(f"{THINK}<action>{asin}</action>")
        pages[style], *_ = env.step(f"{THINK}<action>click[reviews]</action>")
        env.close()
    assert pages["native"].endswith("< Prev [SEP] No reviews found")
    assert pages["original"].endswith("[SEP] Back to Search [SEP] < Prev")


def test_webshop_native_path_is_unchanged(webshop_catalog):
    env = _webshop(webshop_catalog, "native")
    env.reset(seed=3)
    assert "click[search]" not in env.admissible_actions()
    obs, _, _, info = env.step(f"{THINK}<action>click[buy it]</action>")
    assert not info.is_action_valid and obs.startswith("Invalid action:")
    env.close()


# --- Search ---------------------------------------------------------------------------------------

class FixedRetriever:
    """Returns the same two passages for every query; records the queries."""

    def __init__(self):
        self.queries = []

    def search_batch(self, queries, topk):
        from agent_system.environments.search.data import Passage

        self.queries.extend(queries)
        return [[Passage("1", '"Hamlet"\nA play – 1600.'), Passage("2", '"Ophelia"\nA "character".')][:topk]
                for _ in queries]


def _search(style, retriever):
    row = QARow(index=0, question="who wrote hamlet", golds=("Shakespeare",), data_source="x", task_type="x")
    return SearchEnv([row], retriever, topk=2, max_turns=4, style=style)


def test_search_original_observations_and_dynamics():
    retriever = FixedRetriever()
    env = _search("original", retriever)
    obs, _ = env.reset(seed=0)
    assert obs == "who wrote hamlet"
    obs, _, done, info = env.step("<think>x</think><search> hamlet author </search>")
    assert obs == format_tool_output(['"Hamlet"\nA play – 1600.', '"Ophelia"\nA "character".'])
    assert json.loads(obs[len("<information>"):-len("</information>")])["result"].startswith('Doc 1: "Hamlet"\nA play')
    assert "\\u2013" in obs and not done and info.is_action_valid
    # no block: played as "", the observation is empty
    obs, reward, done, info = env.step("I think it is Shakespeare")
    assert (obs, reward, done, info.action, info.is_action_valid) == ("", 0.0, False, "", False)
    # both tags: flagged invalid, the first search block is still played
    obs, _, _, info = env.step("<search>q1</search><answer>Shakespeare</answer>")
    assert not info.is_action_valid and info.action == "<search>q1</search>" and obs.startswith("<information>")
    assert retriever.queries == ["hamlet author", "q1"]
    obs, reward, done, info = env.step("<answer>shakespeare</answer>")
    assert done and reward == 1.0 and info.won


def test_search_native_path_is_unchanged():
    env = _search("native", FixedRetriever())
    env.reset(seed=0)
    obs, _, _, _ = env.step("<search>hamlet</search>")
    assert obs.startswith("<information>Doc 1(Title: Hamlet) A play")
    obs, _, _, info = env.step("I think it is Shakespeare")
    assert not info.is_action_valid and obs.startswith("Invalid action:")


def test_split_action():
    assert split_action("<answer>a</answer>") == ("answer", "a")
    assert split_action("<search></search>") == ("search", "")
    assert split_action("") is None
