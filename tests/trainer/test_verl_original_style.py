"""Both prompt styles through verl's agent loop (CPU stand-in server, real Search env over the shared
BM25 corpus sample, a lossless byte-level tokenizer so the server can read back the exact prompt).

With ``recipe=skillrl_original`` the loop must send the original's prompts byte for byte (a golden
case is replayed: same question, same model outputs), play the original's dynamics (an output with
two answer tags is flagged invalid and still answers), and score the episode as the recipe says
(exact match, minus 0.01 per invalid step)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("verl")

from skillrl.trainer import _verl  # noqa: E402
from skillrl.trainer import verl_agent_loop as val  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "original"))
from original_helpers import ORIGINAL_REPO, golden_rows  # noqa: E402
from verl_helpers import CHAT_TEMPLATE, compose  # noqa: E402

from skillrl.utils.paths import DataNotFoundError, resolve_data_dir  # noqa: E402

CASE = "sea_skills_t3_h4"  # bamboogle row 0, three searches, skills on, history 4
LAST_OUTPUT = "<think>sure</think><answer>wrong</answer> or <answer>also wrong</answer>"


def byte_tokenizer(texts):
    """A byte-level BPE tokenizer (decode(encode(x)) == x for any text) with a plain chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "<eos>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


class ReplayServer:
    """verl's ``generate`` interface: answers with fixed outputs in order; keeps the user prompts it saw."""

    def __init__(self, tokenizer, outputs):
        self.tok = tokenizer
        self.outputs = list(outputs)
        self.prompts: list[str] = []

    async def generate(self, request_id, *, prompt_ids, sampling_params, **kwargs):
        text = self.tok.decode(prompt_ids, skip_special_tokens=True)
        assert text.startswith("user : ") and text.endswith(" assistant :")
        self.prompts.append(text[len("user : "): -len(" assistant :")])
        out = self.outputs[len(self.prompts) - 1]
        ids = self.tok.encode(out, add_special_tokens=False) + [self.tok.eos_token_id]
        return _verl.TokenOutput(token_ids=ids, log_probs=[-0.1] * len(ids), extra_fields={}, num_preempted=0)


def make_loop(cfg, tokenizer, server):
    return val.EnvAgentLoop(trainer_config=_verl.DictConfigWrap(cfg), server_manager=server, tokenizer=tokenizer,
                            processor=None, dataset_cls=_verl.RLHFDataset, data_config=_verl.DictConfigWrap(cfg.data),
                            hf_model_type=None)


ROW = {
    "raw_prompt": [{"role": "user", "content": "search bamboogle_test row 0"}],
    "extra_info": {"index": 0, "env_name": "search", "seed": 0, "split": "bamboogle_test", "task": "0"},
    "index": 0, "data_source": "skillrl/search", "uid": "row0", "global_steps": 1,
}


@pytest.fixture(scope="module")
def corpus():
    try:
        path = resolve_data_dir("search") / "corpus" / "wiki18_sample_1k.jsonl"
    except DataNotFoundError:
        pytest.skip("no Search data")
    if not path.is_file():
        pytest.skip("no wiki-18 sample corpus")
    return path


def _play(cfg, outputs, monkeypatch):
    case = next(r for r in golden_rows("search") if r["case"] == CASE)
    tok = byte_tokenizer([r["prompt"] for r in golden_rows("search")] + outputs)
    monkeypatch.setattr(val, "_RETRIEVERS", {})
    monkeypatch.setattr(val, "_STYLES", {})
    server = ReplayServer(tok, outputs)
    async def play():  # verl's loop binds to the running event loop when it is built
        return await make_loop(cfg, tok, server).run({"temperature": 0.0}, **ROW, session_id=0)

    outs = asyncio.run(play())
    return case, server, outs


def test_original_recipe_through_the_verl_agent_loop(corpus, monkeypatch):
    case = next(r for r in golden_rows("search") if r["case"] == CASE)
    outputs = [*case["inputs"]["model_outputs"], LAST_OUTPUT]
    cfg = compose("skillrl_trainer", ["env=search", "recipe=skillrl_original", f"env.original_repo={ORIGINAL_REPO}",
                                      f"env.env_kwargs.corpus={corpus}", "data.max_prompt_length=65536"])
    assert cfg.env.prompt_style == "original" and cfg.data.max_response_length == 700
    case, server, outs = _play(cfg, outputs, monkeypatch)
    assert len(server.prompts) == 4 and len(outs) == 4
    # the golden turn, byte for byte; turn 0 is the original's no-history prompt (no skills)
    assert server.prompts[3] == case["prompt"]
    assert "## Retrieved Relevant Experience" not in server.prompts[0] and "### General Principles" in server.prompts[1]
    info = outs[-1].extra_fields["reward_extra_info"]
    # the last output has two answer tags: invalid, still played (wrong answer: the episode ends)
    episode = json.loads(info["episode"])
    assert episode["actions"][-1] == "<answer>wrong</answer>" and info["invalid_actions"] == 1
    assert (info["won"], info["turns"]) == (0.0, 4)
    assert all(o.reward_score == pytest.approx(-0.01) for o in outs)  # EM 0 - 0.01 x 1 invalid step
    assert info["score"] == pytest.approx(-0.01) and info["skill_ids"]


def test_native_style_through_the_same_loop(corpus, monkeypatch):
    case = next(r for r in golden_rows("search") if r["case"] == CASE)
    gold = "<think>ok</think><answer>{}</answer>"
    from agent_system.environments.search.data import load_qa, resolve_qa_file

    answer = load_qa(resolve_qa_file(None, None, "bamboogle_test"))[0].golds[0]
    outputs = [case["inputs"]["model_outputs"][0], gold.format(answer)]
    bank = Path(__file__).resolve().parents[2] / "memory_data" / "search" / "skills.json"
    cfg = compose("skillrl_trainer", ["env=search", f"env.env_kwargs.corpus={corpus}", "env.use_skills_only_memory=true",
                                      f"env.skills_only_memory.skills_json_path={bank}", "data.max_prompt_length=65536"])
    case, server, outs = _play(cfg, outputs, monkeypatch)
    assert len(outs) == 2 and server.prompts[0] != case["prompt"]
    # native: the skills and the question from the first turn on, readable passages in the history
    assert case["inputs"]["question"] in server.prompts[0] and "Skills" in server.prompts[0]
    assert "Doc 1(Title:" in server.prompts[1] and '{"result"' not in server.prompts[1]
    info = outs[-1].extra_fields["reward_extra_info"]
    assert info["won"] == 1.0 and all(o.reward_score == 1.0 for o in outs) and info["score"] == 1.0
