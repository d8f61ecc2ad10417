"""The Search env: episodes (in-process and through the server), the contract, prompts, play."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from agent_system.environments import INFO_KEYS, EpisodeFinishedError, PromptContext, get_env_spec
from agent_system.environments.contract import check_env
from agent_system.environments.search import SPEC, SearchEnv, SearchProgress, make
from agent_system.environments.search.client import RetrieverClient, RetrieverUnavailableError
from agent_system.environments.search.data import QARow
from agent_system.environments.search.env import format_passages
from agent_system.environments.search.projection import FORMAT_HINT
from agent_system.environments.search.prompt import build_prompt
from agent_system.environments.search.retrievers import BM25Retriever
from agent_system.environments.search.server import ServerThread, free_port
from skillrl.agent.episode import Generation
from skillrl.agent.loop import EpisodeConfig, run_episode
from skillrl.utils.paths import resolve_data_dir

PASSAGES = [
    ("d0", '"Eiffel Tower"\nThe Eiffel Tower is a wrought-iron lattice tower in Paris, France.'),
    ("d1", '"Mount Everest"\nMount Everest is the highest mountain on Earth, in Nepal.'),
    ("d2", '"Python (programming language)"\nPython was created by Guido van Rossum.'),
]
ROWS = [
    QARow(index=0, question="In which city is the Eiffel Tower?", golds=("Paris",), data_source="nq", task_type="nq"),
    QARow(index=1, question="Who created Python?", golds=("Guido van Rossum", "van Rossum"), data_source="hotpotqa/hotpot_qa", task_type="hotpotqa"),
]


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory) -> BM25Retriever:
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    path.write_text("".join(json.dumps({"id": i, "contents": c}) + "\n" for i, c in PASSAGES))
    return BM25Retriever.build(path, use_cache=False)


def test_spec_is_registered() -> None:
    spec = get_env_spec("search")
    assert spec is SPEC and spec.name == "search"
    assert {"nq", "hotpotqa", "bamboogle", "2wiki", "musique"} <= set(spec.task_types)
    # skills are routed by question kind, not by the data source the env reports
    assert spec.taxonomy.categories == ("single_hop_fact", "multi_hop", "comparison", "temporal", "numeric")
    assert spec.play is not None and list(spec.play.scripts)[:3] == ["oracle", "random", "wrong"] and spec.score is None


def test_episode_search_then_answer(retriever: BM25Retriever) -> None:
    env = SearchEnv(ROWS, retriever, topk=2, max_turns=4)
    obs, info = env.reset(seed=3)  # 3 % 2 -> row 1
    assert obs == "Who created Python?"
    assert {k: info[k] for k in INFO_KEYS} == {
        "won": False, "task_type": "hotpotqa", "is_action_valid": True, "task": "Who created Python?", "game_id": "1",
    }
    obs, reward, done, info = env.step("<think>look it up</think><search>Python programming language creator</search>")
    assert (reward, done, info["is_action_valid"]) == (0.0, False, True)
    assert info["action"] == "<search>Python programming language creator</search>"
    assert obs.startswith("<information>Doc 1(Title: Python (programming language)) Python was created by Guido")
    assert obs.endswith("</information>") and "Doc 2(Title:" in obs and "Doc 3" not in obs
    obs, reward, done, info = env.step("<answer>Guido van Rossum.</answer>")
    assert (reward, done, info["won"], info["em"], info["f1"]) == (1.0, True, True, 1.0, 1.0)
    assert info["answer"] == "Guido van Rossum." and info["turn"] == 2
    assert info.extra == SearchProgress(turn=2, em=1.0, f1=1.0, answer="Guido van Rossum.", golds=info.extra.golds)
    assert info.extra.golds and "golds" in info
    with pytest.raises(EpisodeFinishedError):
        env.step("<answer>again</answer>")


def test_wrong_answer_scores_zero_with_partial_f1(retriever: BM25Retriever) -> None:
    env = SearchEnv(ROWS, retriever)
    env.reset(task="1")
    _, reward, done, info = env.step("<answer>Guido</answer>")
    assert (reward, done, info["won"], info["em"]) == (0.0, True, False, 0.0)
    assert info["f1"] == pytest.approx(2 * 1 * (1 / 3) / (1 + 1 / 3))


def test_invalid_actions_and_turn_limit(retriever: BM25Retriever) -> None:
    env = SearchEnv(ROWS, retriever, max_turns=3)
    env.reset(seed=0)
    obs, reward, done, info = env.step("Paris, obviously")
    assert (reward, done, info["is_action_valid"], info["action"]) == (0.0, False, False, "")
    assert obs == f"Invalid action: no <search> or <answer> action found. {FORMAT_HINT}"
    assert info.extra == SearchProgress(turn=1, em=0.0, f1=0.0, golds=info.extra.golds) and "answer" not in info  # the turn counts
    obs, _, done, _ = env.step("<search>Eiffel</search><answer>Paris</answer>")
    assert not done and "both" in obs
    obs, reward, done, info = env.step("<search>Eiffel Tower city</search>")
    assert done and reward == 0.0 and not info["won"] and info["answer"] == "" and info["turn"] == 3
    assert obs.startswith("<information>")
    assert obs.endswith("</information>\nNo turns left (3 used): the episode ends without an answer.")
    env.reset(seed=0)  # an invalid output on the last turn ends the episode too
    env.max_turns = 1
    obs, _, done, info = env.step("nothing")
    assert done and not info.is_action_valid and obs.endswith("No turns left (1 used): the episode ends without an answer.")


def test_reset_is_deterministic_and_task_wins(retriever: BM25Retriever) -> None:
    env = SearchEnv(ROWS, retriever)
    assert env.reset(seed=4)[1]["game_id"] == env.reset(seed=4)[1]["game_id"] == "0"
    assert env.reset(seed=4, task="1")[1]["game_id"] == "1"
    with pytest.raises(ValueError, match="out of range"):
        env.reset(task="9")
    with pytest.raises(ValueError, match="row index"):
        env.reset(task="paris")
    assert env.reset()[1]["game_id"] in {"0", "1"}
    with pytest.raises(EpisodeFinishedError):
        SearchEnv(ROWS, retriever).step("<answer>x</answer>")  # never reset


def _oracle(obs: str, info: Mapping[str, Any], admissible: Sequence[str] | None) -> str:
    row = ROWS[int(info["game_id"])]
    return f"<answer>{row.golds[0]}</answer>" if obs.startswith("<information>") else f"<search>{row.question}</search>"


def test_contract(retriever: BM25Retriever) -> None:
    report = check_env(SearchEnv(ROWS, retriever), _oracle, max_steps=4)
    assert report.won and report.total_reward == 1.0 and report.steps == 2 and report.done_checked


def test_episode_through_the_server(retriever: BM25Retriever) -> None:
    with ServerThread(retriever) as server:
        env = make(rows=ROWS, retriever_url=server.url, topk=1)
        env.reset(seed=0)
        obs, _, _, _ = env.step("<search>Eiffel Tower</search>")
        assert obs == "<information>Doc 1(Title: Eiffel Tower) The Eiffel Tower is a wrought-iron lattice tower in Paris, France.</information>"
        _, reward, done, _ = env.step("<answer>paris</answer>")
        assert reward == 1.0 and done
        env.close()


def test_dead_retriever_raises_and_does_not_use_the_turn() -> None:
    url = f"http://127.0.0.1:{free_port()}/retrieve"
    env = make(rows=ROWS, retriever_url=url, timeout=0.5, retries=1)
    env.retriever.backoff = 0.01  # type: ignore[attr-defined]
    env.reset(seed=0)
    with pytest.raises(RetrieverUnavailableError, match="skillrl retriever serve"):
        env.step("<search>Eiffel Tower</search>")
    # the failed search did not consume a turn; answering still works
    _, reward, done, info = env.step("<answer>Paris</answer>")
    assert reward == 1.0 and done and info["turn"] == 1


class _Scripted:
    def __init__(self, outputs: list[str]) -> None:
        self.outputs = outputs
        self.prompts: list[str] = []

    async def generate(self, prompt: str) -> Generation:
        self.prompts.append(prompt)
        return Generation(text=self.outputs[len(self.prompts) - 1])


class _Skills:
    bank_version = 7

    def retrieve(self, task: str, task_type: str | None = None) -> Any:
        class Retrieved:
            text = "## Skills\n- SKILL-MARKER: search before answering"
            skill_ids = ("s1",)

        Retrieved.task_type = task_type or ""
        return Retrieved()


def test_agent_loop_episode_with_skills_on_every_turn(retriever: BM25Retriever) -> None:
    env = SearchEnv(ROWS, retriever)
    policy = _Scripted(["<search>Eiffel Tower</search>", "not an action", "<answer>Paris</answer>"])
    episode = asyncio.run(run_episode(env, SPEC, policy, seed=0, skills=_Skills(), config=EpisodeConfig(max_steps=4, history_length=1)))
    assert episode.won and episode.reward == 1.0 and episode.num_turns == 3 and episode.error is None
    assert episode.task_type == "nq" and episode.skill_ids == ("s1",)
    assert [s.is_action_valid for s in episode.steps] == [True, False, True]
    assert all("SKILL-MARKER" in p and "Question: In which city is the Eiffel Tower?" in p for p in policy.prompts)
    assert "<information>Doc 1(Title: Eiffel Tower)" in policy.prompts[1]
    # history_length=1: the third prompt shows step 2 only
    assert "Step 2: not an action" in policy.prompts[2] and "Step 1:" not in policy.prompts[2]


def test_agent_loop_records_a_dead_retriever_as_an_error() -> None:
    env = make(rows=ROWS, retriever_url=f"http://127.0.0.1:{free_port()}/retrieve", timeout=0.5, retries=0)
    episode = asyncio.run(run_episode(env, SPEC, _Scripted(["<search>x</search>"]), seed=0))
    assert episode.error is not None and "RetrieverUnavailableError" in episode.error and not episode.won


def test_prompt_layout() -> None:
    first = build_prompt(PromptContext(task="Who created Python?", observation="Who created Python?", skill_block="SKILLS-HERE"))
    assert first.index("Question: Who created Python?") < first.index("SKILLS-HERE") < first.index("<think>")
    assert first.count("Who created Python?") == 1 and "Step" not in first
    assert "<search>" in first and "<answer>" in first and "<think>" in first
    assert "SKILLS" not in build_prompt(PromptContext(task="q", observation="q"))
    later = build_prompt(
        PromptContext(
            task="q",
            observation="<information>third</information>",
            history=(("q", "<search>a</search>"), ("<information>first</information>", "<search>b</search>"), ("<information>second</information>", "<search>c</search>")),
            skill_block="SKILLS-HERE",
            turn=3,
            history_length=2,
        )
    )
    assert later.index("already taken 3 step(s)") < later.index("Question: q") < later.index("SKILLS-HERE")
    assert "Step 1" not in later
    assert "Step 2: <search>b</search>\n<information>second</information>" in later
    assert "Step 3: <search>c</search>\n<information>third</information>" in later


def test_format_passages() -> None:
    assert format_passages([]) == "<information>No results found.</information>"


def test_make_reads_a_split_lazily_without_a_server() -> None:
    env = make(split="bamboogle_test", data_dir=resolve_data_dir("search"), retriever_url="http://127.0.0.1:9/retrieve")
    assert isinstance(env.retriever, RetrieverClient) and len(env.rows) == 125
    obs, info = env.reset(seed=125)  # wraps to row 0
    assert info["game_id"] == "0" and obs.startswith("Who was president")
    _, reward, _, _ = env.step("<answer>James Madison</answer>")  # no search: no server needed
    assert reward == 1.0
    env.close()
    env.close()


@pytest.mark.slow
@pytest.mark.parametrize("split", ["nq_test", "hotpotqa_test", "musique_test", "bamboogle_test", "2wiki_test", "searchr1_nq_test"])
def test_oracle_wins_every_question_of_every_split(split: str) -> None:
    from agent_system.environments.search.data import load_qa, resolve_qa_file
    from agent_system.environments.search.reward import exact_match

    rows = load_qa(resolve_qa_file(split=split))
    assert all(exact_match(r.golds[0], r.golds) == 1.0 for r in rows)
