"""The original SkillRL recipe: its facts as data, and its prompt style bound for one env.

Two things live here, for the agent loop and the trainers to use:

- :class:`OriginalRecipe` — the original's training/eval facts per environment (rewards,
  invalid-action penalty, lengths, steps, history, validation data, skill settings), each with
  its source in the original repository (aiming-lab/SkillRL @ 48c8446f; ``file:line`` in that
  commit; the launch scripts are ``examples/grpo_trainer/run_<env>_skills.sh``).
- :class:`OriginalPromptStyle` — one env's original-style prompt renderer and projection with
  the templates read from the user's checkout (:func:`load_original_style`), plus the skill
  block of the original's template-mode retrieval. A turn is rendered from a
  :class:`~agent_system.environments.base.PromptContext` whose observations are *raw* env text
  and whose history holds the projected actions (what the original stores), so the same loop
  that builds native prompts can build original ones.

Dynamics shared by all three envs (for the integration round; not applied here):

- the projected action is executed even when invalid; the penalty
  ``reward -= coef * (1 - is_action_valid)`` goes on the last response token of *every* step
  (``verl/trainer/ppo/ray_trainer.py:200-224``, applied at ``:1405-1410``; default on, coef 0.1,
  ``ppo_trainer.yaml:58-59``), the launch scripts set ``coef`` per env;
- the episode reward (sum of step rewards, ``rollout_loop.py:383``) goes on each step's last
  token, not length-normalised (``agent_system/reward_manager/episode.py:72-79``,
  ``verl/trainer/main_ppo.py:152,155``);
- the prompt is sent as the only message, ``[{"role": "user", "content": prompt}]``, through
  the chat template with ``add_generation_prompt=True`` (``multi_turn_rollout/rollout_loop.py:83-101``).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent_system.environments.base import ParsedAction, PromptContext
from agent_system.environments.original_style import OriginalEnvStyle, get_original_style
from agent_system.environments.original_templates import OriginalTemplates
from skillrl.skills.bank import SkillBank
from skillrl.skills.original import OriginalBank, OriginalSelection, format_skill_block, select_skills

RewardRule = Literal["won_x10", "perfect_purchase_x10", "exact_match"]


@dataclass(frozen=True)
class OriginalSkillsRecipe:
    """The original's skill settings for one env (``env.skills_only_memory.*``)."""

    skills_json: str
    """The launch script's bank, relative to ``<original repo>/memory_data``."""
    top_k: int
    """General skills per prompt as the launch script sets it."""
    top_k_when_unset: int
    """What the env manager uses when ``top_k`` is not configured (10 ALFWorld/Search, 6 WebShop:
    ``env_manager.py:93``, ``:243``, ``:567``)."""
    retrieval_mode: Literal["template"] = "template"
    """The launch scripts use keyword routing (``template``); only it is reproduced."""
    task_specific_top_k: int | None = None
    """Task skills per prompt (None: all of the routed category)."""
    honours_task_specific_top_k: bool = True
    """False for Search: its manager builds the memory from the bank path only
    (``env_manager.py:54-57``), so ``task_specific_top_k`` never reaches it."""
    enable_dynamic_update: bool = False
    """Whether the launch script lets the trainer append LLM-written ``dyn_*`` general skills to
    the training envs' bank (``ray_trainer.py:826-918``)."""


@dataclass(frozen=True)
class OriginalRecipe:
    """The original's facts for one env; see each field for its source."""

    env_name: str
    """``alfworld``, ``webshop`` or ``search``."""
    reward_rule: RewardRule
    """``won_x10``: ``10.0 * won`` (``env_package/alfworld/envs.py:48-53``);
    ``perfect_purchase_x10``: 10.0 iff done and the task score is exactly 1.0, else 0
    (``env_package/webshop/envs.py:44-53``); ``exact_match``: 1.0/0.0 by exact match of the last
    ``<answer>``, only on the final step, ``won = done and reward >= 1``
    (``search/envs.py:91,96``; ``skyrl_gym/envs/search/env.py:49-56``; ``.../search/utils.py:79-97``)."""
    success_reward: float
    """The env reward of a success (10, 10, 1)."""
    invalid_action_penalty: float
    """Subtracted per invalid step (``use_invalid_action_penalty``/``invalid_action_penalty_coef``
    in the launch scripts: ALFWorld ``:61-62``, WebShop ``:60-61``, Search ``:49-50``)."""
    executes_invalid_actions: bool
    """The projected action is sent to the env even when flagged invalid (``env_manager.py``
    ``step``: ``projection_f`` then ``envs.step(actions)``)."""
    max_prompt_length: int
    """``data.max_prompt_length`` (ALFWorld ``:32-35``, WebShop ``:31-34``, Search ``:22-25``)."""
    max_response_length: int
    """``data.max_response_length`` (same lines)."""
    truncation: Literal["error", "left"]
    """``data.truncation`` (same lines): ``error`` fails on an over-long prompt, ``left`` cuts its start."""
    max_steps: int
    """``env.max_steps`` (ALFWorld ``:66``, WebShop ``:65``, Search ``:54``)."""
    history_length: int
    """``env.history_length``: ALFWorld and WebShop keep the default 2
    (``verl/trainer/config/ppo_trainer.yaml:296``), Search sets 4 (``:56``)."""
    skills: OriginalSkillsRecipe
    """The skill settings of the launch script."""
    val_split: str
    """This project's ``env.val_split`` that holds the original's validation games: ALFWorld
    ``valid_seen`` (see :attr:`validation_split`), WebShop ``test`` (goals 0..499, see
    :attr:`validation_goals`), Search the project's default file (the original's eval-only script
    reads Search-R1's test parquet, which is not shipped here)."""
    validation_split: str | None = None
    """ALFWorld: ``valid_seen`` (``env.alfworld.eval_dataset: eval_in_distribution``,
    ``ppo_trainer.yaml:303`` → ``configs/config_tw.yaml:3``), all games minus
    ``movable``/``Sliced``/unsolvable ones (``alfred_tw_env.py:162-189``), no domain
    randomisation in eval (``:247-248``)."""
    validation_goals: tuple[int, int] | None = None
    """WebShop: validation goals ``range(0, 500)``, training goals from 500 on
    (``env_package/webshop/envs.py:141-144``), synthetic goals on the 1k catalogue
    (``ppo_trainer.yaml:315-316``)."""
    max_prompt_chars: int | None = None
    """WebShop: a prompt longer than this many characters falls back to the no-history template
    (``env_manager.py:693-699``); applied by the WebShop renderer."""
    retriever_topk: int | None = None
    """Search: passages per query (``ppo_trainer.yaml:307``)."""
    eval_only: bool = False
    """Search: the launch script only validates (``total_epochs=0``, ``val_before_train=True``,
    ``run_search_skills.sh:69-70``); with skills on it cannot start at HEAD (the manager passes
    ``env="Search"`` to ``SkillsOnlyMemory``, which has no such parameter)."""


#: the original's recipe per env (``recipe=skillrl_original``)
ORIGINAL_RECIPES: Mapping[str, OriginalRecipe] = {
    "alfworld": OriginalRecipe(
        env_name="alfworld",
        reward_rule="won_x10",
        success_reward=10.0,
        invalid_action_penalty=0.1,
        executes_invalid_actions=True,
        max_prompt_length=4096,
        max_response_length=512,
        truncation="error",
        max_steps=50,
        history_length=2,
        skills=OriginalSkillsRecipe(
            skills_json="alfworld/claude_style_skills.json",  # run_alfworld_skills.sh:70
            top_k=6,  # run_alfworld_skills.sh:69-74
            top_k_when_unset=10,
            enable_dynamic_update=True,
        ),
        val_split="valid_seen",
        validation_split="valid_seen",
    ),
    "webshop": OriginalRecipe(
        env_name="webshop",
        reward_rule="perfect_purchase_x10",
        success_reward=10.0,
        invalid_action_penalty=0.1,
        executes_invalid_actions=True,
        max_prompt_length=6000,
        max_response_length=768,
        truncation="left",
        max_steps=15,
        history_length=2,
        skills=OriginalSkillsRecipe(
            skills_json="webshop/claude_style_skills.json",  # run_webshop_skills.sh:69
            top_k=6,  # run_webshop_skills.sh:68-73
            top_k_when_unset=6,
            enable_dynamic_update=True,
        ),
        val_split="test",
        validation_goals=(0, 500),
        max_prompt_chars=13_000,
    ),
    "search": OriginalRecipe(
        env_name="search",
        reward_rule="exact_match",
        success_reward=1.0,
        invalid_action_penalty=0.01,
        executes_invalid_actions=True,
        max_prompt_length=5000,
        max_response_length=700,
        truncation="left",
        max_steps=4,
        history_length=4,
        skills=OriginalSkillsRecipe(
            skills_json="search/claude_style_skills_search.json",  # run_search_skills.sh:59
            top_k=6,  # run_search_skills.sh:58-60
            top_k_when_unset=10,
            honours_task_specific_top_k=False,
            enable_dynamic_update=False,  # eval-only script: nothing trains, nothing updates
        ),
        val_split="bamboogle_test",
        retriever_topk=3,
        eval_only=True,
    ),
}


def original_recipe(env_name: str) -> OriginalRecipe:
    """The original's recipe for ``env_name``.

    Raises:
        KeyError: the original has no such env (the message lists the known ones).
    """
    try:
        return ORIGINAL_RECIPES[env_name]
    except KeyError:
        raise KeyError(f"the original SkillRL has no env {env_name!r}; known: {', '.join(sorted(ORIGINAL_RECIPES))}") from None


@dataclass(frozen=True)
class OriginalPromptStyle:
    """One env's original-style turn prompt, projection and skill block, templates loaded.

    Implements :class:`skillrl.agent.style.PromptStyle` (the agent loop's ``style``); pair it
    with the env built with ``style="original"`` (raw observations, the original's projection).
    """

    env: OriginalEnvStyle
    """The env's pure original-style functions."""
    templates: OriginalTemplates
    """The env's templates, read from the original checkout."""
    recipe: OriginalRecipe
    """The env's original recipe (skill defaults come from it)."""
    name: str = "original"
    """Always ``original``."""

    @property
    def env_name(self) -> str:
        return self.env.name

    def prompt_task(self, first_observation: str, env_task: str) -> str:
        """The task as the original's env manager extracts it from the reset observation
        (the env's task when the observation has no task line)."""
        try:
            return self.env.extract_task(first_observation)
        except ValueError:
            return env_task

    def history_action(self, action: str, output: str) -> str:
        """The projected action, as the original stores it (even ``""``)."""
        del output
        return action

    def skill_source(self, bank: SkillBank | OriginalBank | Mapping[str, Any],
                     retriever_kwargs: Mapping[str, Any]) -> "OriginalSkillSource":
        """The original's template-mode skills over ``bank`` with ``top_k`` and
        ``task_specific_top_k`` from ``retriever_kwargs`` (the other retrieval settings have no
        counterpart in the original and are ignored)."""
        return OriginalSkillSource(bank, self, top_k=retriever_kwargs.get("top_k"),
                                   task_specific_top_k=retriever_kwargs.get("task_specific_top_k"))

    def build_prompt(self, ctx: PromptContext) -> str:
        """One turn's user prompt; ``ctx`` holds raw env text, projected actions in the history
        and :meth:`skill_block`'s text (or '' with skills off). Turn 0 never shows skills."""
        return self.env.build_prompt(ctx, self.templates)

    def project_action(self, text: str, admissible_actions: Sequence[str] | None = None) -> ParsedAction:
        """The original's projection (admissibility never checked)."""
        return self.env.project_action(text, admissible_actions)

    def extract_task(self, first_observation: str) -> str:
        """The task as the original's env manager takes it from the reset observation."""
        return self.env.extract_task(first_observation)

    def select_skills(
        self,
        bank: OriginalBank | SkillBank | Mapping[str, Any],
        task: str,
        *,
        top_k: int | None = None,
        task_specific_top_k: int | None = None,
    ) -> OriginalSelection:
        """Template-mode selection with this env's defaults: ``top_k=None`` takes the manager's
        default when unset; ``task_specific_top_k`` is dropped where the original never passed it."""
        skills = self.recipe.skills
        k = skills.top_k_when_unset if top_k is None else top_k
        tk = task_specific_top_k if skills.honours_task_specific_top_k else None
        return select_skills(bank, task, top_k=k, task_specific_top_k=tk)

    def skill_block(
        self,
        bank: OriginalBank | SkillBank | Mapping[str, Any],
        task: str,
        *,
        top_k: int | None = None,
        task_specific_top_k: int | None = None,
    ) -> str:
        """The text of ``{retrieved_memories}`` for ``task`` (retrieved once per episode)."""
        return format_skill_block(self.select_skills(bank, task, top_k=top_k, task_specific_top_k=task_specific_top_k))


@dataclass(frozen=True)
class OriginalRetrieval:
    """What :class:`OriginalSkillSource` retrieves for one task (the agent loop's ``RetrievedSkills``)."""

    task_type: str
    """The category the original's keyword routing picked."""
    text: str
    """The skill block, as the original renders it."""
    skill_ids: tuple[str, ...]
    """Ids of the shown skills (general, then task-specific)."""


class OriginalSkillSource:
    """The agent loop's ``SkillSource`` in the original style: keyword routing and the original's
    skill block over a bank (read live: a :class:`SkillBank` that evolves is seen at its
    current version).

    Args:
        bank: a :class:`SkillBank`, an :class:`OriginalBank` or decoded bank JSON.
        style: the env's original style (its per-env skill defaults apply).
        top_k: general skills (None: the original manager's default when unset).
        task_specific_top_k: task skills of the routed category (None: all).
    """

    def __init__(self, bank: SkillBank | OriginalBank | Mapping[str, Any], style: OriginalPromptStyle, *,
                 top_k: int | None = None, task_specific_top_k: int | None = None) -> None:
        self.bank = bank
        self.style = style
        self.top_k = top_k
        self.task_specific_top_k = task_specific_top_k

    @property
    def bank_version(self) -> int | None:
        """The bank's version (None for a bank that is not a :class:`SkillBank`)."""
        return self.bank.version if isinstance(self.bank, SkillBank) else None

    def retrieve(self, task: str, task_type: str | None = None) -> OriginalRetrieval:
        """The skill block for ``task``; ``task_type`` is ignored (the original routes by keywords)."""
        del task_type
        selection = self.style.select_skills(self.bank, task, top_k=self.top_k,
                                             task_specific_top_k=self.task_specific_top_k)
        return OriginalRetrieval(selection.task_type, format_skill_block(selection), selection.skill_ids)


def load_original_style(env_name: str, original_repo: str | os.PathLike[str] | None) -> OriginalPromptStyle:
    """Bind ``env_name``'s original style to the templates of the checkout at ``original_repo``.

    Raises:
        skillrl.utils.registry.RegistryError: no original style for ``env_name``.
        agent_system.environments.original_templates.OriginalRepoError: the checkout or a
            template is missing (one line naming the path).
    """
    env = get_original_style(env_name)
    return OriginalPromptStyle(env=env, templates=env.load_templates(original_repo), recipe=original_recipe(env_name))


# --- released checkpoints ----------------------------------------------------------------------

#: names of the original's released checkpoints (``Jianwen/Alfworld-7B-SFT`` …) and anything
#: called SkillRL; matched against a hub id, a folder's name and its config's ``_name_or_path``
_RELEASE_NAME = re.compile(r"skillrl|(?:^|[/\-_])(?:alfworld|webshop|search)-\d+(?:\.\d+)?b-(?:sft|rl|grpo)", re.IGNORECASE)
#: a model card (README.md) that names SkillRL
_RELEASE_CARD = re.compile(r"\bSkillRL\b")


def _json_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def trained_prompt_style(model_path: str | os.PathLike[str]) -> str | None:
    """The ``env.prompt_style`` a checkpoint of this project was trained with, from its
    ``trainer_state.json`` (``native`` for checkpoints older than the setting); None when the
    folder is not one of this project's checkpoints."""
    state = Path(model_path).expanduser() / "trainer_state.json"
    if not state.is_file():
        return None
    env = (_json_file(state).get("config") or {}).get("env") or {}
    return str(env.get("prompt_style") or "native") if isinstance(env, Mapping) else "native"


def release_evidence(model_path: str | os.PathLike[str]) -> str | None:
    """Why ``model_path`` looks like a released SkillRL checkpoint, or None.

    The heuristic: the hub id or the folder's name matches SkillRL's release names (``SkillRL``
    anywhere, or ``<Alfworld|Webshop|Search>-<N>B-SFT`` as in ``Jianwen/Alfworld-7B-SFT``; the
    Hugging Face cache's ``models--Jianwen--Alfworld-7B-SFT`` too), or a local folder's
    ``config.json`` ``_name_or_path`` does, or its model card (``README.md``) names SkillRL. A
    checkpoint written by this project (``trainer_state.json``) is never a release: its own
    record of the style decides (:func:`trained_prompt_style`).
    """
    text = str(model_path)
    path = Path(text).expanduser()
    if path.is_dir():
        if (path / "trainer_state.json").is_file():
            return None
        names = [path.resolve().name]
        if path.resolve().parent.name == "snapshots":  # the HF cache: models--<owner>--<name>/snapshots/<sha>
            names.append(path.resolve().parent.parent.name)
        for name in names:
            if _RELEASE_NAME.search(name.replace("--", "/")):
                return f"its folder is named {name!r}"
        origin = _json_file(path / "config.json").get("_name_or_path")
        if isinstance(origin, str) and _RELEASE_NAME.search(origin):
            return f"config.json names {origin!r}"
        card = path / "README.md"
        try:
            if card.is_file() and _RELEASE_CARD.search(card.read_text(encoding="utf-8", errors="replace")[:20_000]):
                return "its model card (README.md) names SkillRL"
        except OSError:
            return None
        return None
    return f"its name is {text!r}" if _RELEASE_NAME.search(text) else None


def style_warning(model_path: str | os.PathLike[str] | None, prompt_style: str) -> str | None:
    """A warning for a checkpoint about to be run with a prompt style it was not trained on
    (None when there is nothing to say). See :func:`release_evidence` for how a release is told."""
    if model_path is None or str(model_path).strip() == "":
        return None
    trained = trained_prompt_style(model_path)
    if trained is not None:
        if trained == prompt_style:
            return None
        return (f"checkpoint {model_path} was trained with env.prompt_style={trained} but this run uses "
                f"env.prompt_style={prompt_style}: its prompts will differ from what it learnt on "
                f"(set env.prompt_style={trained})")
    if prompt_style != "native":
        return None
    why = release_evidence(model_path)
    if why is None:
        return None
    return (f"{model_path} looks like a released SkillRL checkpoint ({why}); it was trained on the original "
            "SkillRL prompts, which the native prompt style does not reproduce. Set env.prompt_style=original "
            "with env.original_repo=<checkout of aiming-lab/SkillRL> (or $SKILLRL_ORIGINAL_REPO); "
            "+recipe=skillrl_original sets the whole original recipe")


def warn_on_style_mismatch(model_path: str | os.PathLike[str] | None, prompt_style: str,
                           logger: logging.Logger | None = None) -> str | None:
    """Log :func:`style_warning` (if any) as a warning and return it."""
    message = style_warning(model_path, prompt_style)
    if message is not None:
        (logger or logging.getLogger(__name__)).warning(message)
    return message
