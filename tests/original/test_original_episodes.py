"""Every golden prompt, reproduced by *playing* the episode: the real env in ``style="original"``,
the shared agent loop (:func:`skillrl.agent.loop.run_episode`) in the original prompt style, skills
from the original's bank through :class:`~skillrl.agent.original.OriginalSkillSource`, and a policy
that replays the golden's recorded model outputs. The prompt the loop builds at the case's turn
must equal the golden byte for byte, and every projected action and validity flag must match.

ALFWorld plays the golden's game files; Search retrieves with the project's BM25 over the shared
wiki-18 sample (it returns the goldens' passages exactly). WebShop's product ranking is not part of
what the original style reproduces (the original ranks with Lucene, the project with its own
engine), so a stand-in engine returns the result lists the goldens recorded, and a goal whose
price bound was drawn differently there gets the golden's instruction text; every page, the
catalogue and the shop logic are the project's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest
from original_helpers import ORIGINAL_REPO, golden_params, golden_rows

from agent_system.environments.base import get_env_spec
from agent_system.environments.original_templates import bank_file
from skillrl.agent.episode import Generation
from skillrl.agent.loop import EpisodeConfig, run_episode
from skillrl.agent.original import load_original_style
from skillrl.skills.bank import SkillBank
from skillrl.utils.paths import DataNotFoundError, resolve_data_dir

SEP = " [SEP] "


class Replay:
    """Answers with the golden's model outputs in order (then with nothing); keeps the prompts."""

    def __init__(self, outputs):
        self.outputs = list(outputs)
        self.prompts: list[str] = []

    async def generate(self, prompt: str) -> Generation:
        self.prompts.append(prompt)
        k = len(self.prompts) - 1
        return Generation(self.outputs[k] if k < len(self.outputs) else "")


def _skills(case, style):
    inputs = case["inputs"]
    if not inputs.get("use_skills"):
        return None
    bank = SkillBank.load(bank_file(ORIGINAL_REPO, inputs["skills_json"]))
    return style.skill_source(bank, {"top_k": inputs.get("top_k"), "task_specific_top_k": inputs.get("task_specific_top_k")})


def _play(env, case, **reset):
    style = load_original_style(case["env"], ORIGINAL_REPO)
    inputs, turn = case["inputs"], case["turn"]
    policy = Replay(inputs["model_outputs"])
    config = EpisodeConfig(max_steps=turn + 1, history_length=inputs["history_length"])
    episode = asyncio.run(run_episode(env, get_env_spec(case["env"]), policy, skills=_skills(case, style),
                                      config=config, style=style, **reset))
    assert episode.error is None, episode.error
    assert len(policy.prompts) == turn + 1, "the episode ended before the case's turn"
    assert policy.prompts[turn] == case["prompt"]
    assert [s.action for s in episode.steps[:turn]] == inputs["actions"]
    assert [int(s.is_action_valid) for s in episode.steps[:turn]] == inputs["action_valid"]
    return episode


def _require(env: str) -> None:
    try:
        resolve_data_dir(env)
    except DataNotFoundError:
        pytest.skip(f"no {env} data")


# --- ALFWorld --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def alfworld_env():
    _require("alfworld")
    env = get_env_spec("alfworld").make(split="valid_seen", style="original")
    yield env
    env.close()


#: played in the default run (one game: turn 0 with skills, a long history, no skills); the rest is slow
#: (a TextWorld reset costs ~1.5 s, a game load ~5 s on the 2-core CI machine)
ALFWORLD_FAST = {"alf_turn0_skills_on_uses_no_history_template", "alf_put_a_hot_t5_h3", "alf_put_a_hot_t3_h2_no_skills"}


def _alfworld_params():
    params = sorted(golden_params("alfworld"), key=lambda p: p.values[0]["inputs"]["gamefile"])  # one load per game
    return [p if p.id in ALFWORLD_FAST else pytest.param(*p.values, id=p.id, marks=pytest.mark.slow) for p in params]


@pytest.mark.parametrize("case", _alfworld_params())
def test_alfworld_episode_reproduces_the_golden_prompt(case, alfworld_env):
    episode = _play(alfworld_env, case, task=case["inputs"]["gamefile"])
    assert episode.steps[0].prompt.startswith("\nYou are an expert agent operating in the ALFRED")


# --- Search ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def search_retriever():
    _require("search")
    from agent_system.environments.search.retrievers import build_retriever

    corpus = resolve_data_dir("search") / "corpus" / "wiki18_sample_1k.jsonl"
    if not corpus.is_file():
        pytest.skip("no wiki-18 sample corpus")
    return build_retriever("bm25", corpus)


@pytest.mark.parametrize("case", golden_params("search"))
def test_search_episode_reproduces_the_golden_prompt(case, search_retriever):
    from agent_system.environments.search.data import QARow
    from agent_system.environments.search.env import SearchEnv

    row = QARow(index=0, question=case["inputs"]["question"], golds=("no such answer",), data_source="golden",
                task_type="golden")
    env = SearchEnv([row], search_retriever, topk=3, max_turns=4, style="original")
    episode = _play(env, case, seed=0)
    assert [s.observation for s in episode.steps[: case["turn"]]] == case["inputs"]["observations"][1: case["turn"] + 1]


# --- WebShop ---------------------------------------------------------------------------------------

class RecordedEngine:
    """Stands in for the original's Lucene ranking: each query returns the results the golden
    episode recorded for it (the listed pages in order, padded to the recorded total)."""

    def __init__(self, hits_by_query, filler):
        self.hits_by_query = hits_by_query
        self.filler = filler

    def search(self, query):
        return list(self.hits_by_query[query])


def _recorded_hits(inputs, all_asins):
    """query -> the result list the golden shows (pages seen, then other products up to the total)."""
    out, query, pages, total = {}, None, {}, 0
    observations = inputs["observations"]

    def close():
        if query is not None:
            hits = []
            for number in sorted(pages):
                hits[(number - 1) * 10:(number - 1) * 10 + 10] = pages[number]
            rest = [a for a in all_asins if a not in hits]
            out[query] = (hits + rest)[:max(total, len(hits))]

    for k, action in enumerate(inputs["actions"]):
        m = re.fullmatch(r"search\[(.+)\]", action)
        if m:
            close()
            query, pages, total = m.group(1), {}, 0
        page = re.search(r"Page (\d+) \(Total results: (\d+)\)", observations[k + 1])
        if page and query is not None:
            parts = observations[k + 1].split(SEP)
            pages[int(page.group(1))] = [p for p in parts if re.fullmatch(r"B[0-9A-Z]{9}", p)]
            total = int(page.group(2))
    close()
    return out


@pytest.fixture(scope="module")
def webshop_catalog():
    _require("webshop")
    from agent_system.environments.webshop import load_catalog

    return load_catalog()


def _golden_goal(catalog, inputs):
    """The catalogue's goal for the golden's product with the golden's instruction text."""
    strip = re.compile(r", and price lower than [0-9.]+ dollars$")
    for goal in catalog.goals:
        if goal["asin"] == inputs["goal_asin"] and strip.sub("", goal["instruction_text"]) == strip.sub("", inputs["task"]):
            return {**goal, "instruction_text": inputs["task"]}
    raise AssertionError(f"no goal of {inputs['goal_asin']} reads {inputs['task']!r}")


@pytest.mark.parametrize("case", golden_params("webshop"))
def test_webshop_episode_reproduces_the_golden_prompt(case, webshop_catalog):
    from agent_system.environments.webshop import WebShopEnv

    inputs = case["inputs"]
    catalog = dataclasses.replace(webshop_catalog, goals=(_golden_goal(webshop_catalog, inputs),))
    env = WebShopEnv(catalog=catalog, split="all", style="original")
    env.engine = RecordedEngine(_recorded_hits(inputs, list(catalog.by_asin)), list(catalog.by_asin))
    episode = _play(env, case, task="0")
    assert [s.observation for s in episode.steps[: case["turn"]]] == inputs["observations"][1: case["turn"] + 1]


def test_every_golden_case_is_played():
    """The three parametrised tests above cover every golden prompt case."""
    assert len(golden_rows("alfworld")) + len(golden_rows("webshop")) + len(golden_rows("search")) == 81
