"""Constrained action decoding: with it every sampled action is admissible (word-level and BPE
tokenizers, think block or not); without it the same random-init policy is unconstrained."""

from __future__ import annotations

import random

import pytest
import torch

from agent_system.environments.base import get_env_spec
from skillrl.agent.loop import EpisodeConfig
from skillrl.trainer.local.constrained import ActionConstraint, ActionVocabulary, build_trie
from skillrl.trainer.local.policy import LocalHFPolicy
from skillrl.trainer.local.rollout import collect_episodes, make_env_pool
from skillrl.trainer.local.tiny import build_tiny_model, build_word_tokenizer
from skillrl.trainer.local.warmup import example_texts, sample_format_examples


def _household_policy(constrain: bool, *, max_new_tokens: int = 24, tokenizer=None):
    spec = get_env_spec("household")
    examples = sample_format_examples(spec.make(split="train"), spec, episodes=12, max_steps=8, history_length=2,
                                      rng=random.Random(0))
    tok = tokenizer or build_word_tokenizer(example_texts(examples))
    model = build_tiny_model(len(tok), pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, seed=0)
    vocab = ActionVocabulary(tok, tok.eos_token_id, think=True) if constrain else None
    return spec, LocalHFPolicy(model, tok, max_new_tokens=max_new_tokens, temperature=1.0, constrain=vocab)


def _play(spec, policy, games=8, turns=6):
    torch.manual_seed(0)
    pool = make_env_pool(spec, games, {"split": "train"})
    try:
        return collect_episodes(policy, pool.envs, spec, list(range(games)), config=EpisodeConfig(max_steps=turns))
    finally:
        pool.close()


def test_every_sampled_action_is_admissible_and_off_means_unconstrained():
    spec, on = _household_policy(True)
    eps = _play(spec, on)
    steps = [s for ep in eps for s in ep.steps]
    assert len(steps) >= 40
    assert all(s.is_action_valid for s in steps)  # random init, yet every action is admissible
    assert len({s.action for s in steps}) > 5  # and sampled, not one fixed answer
    spec, off = _household_policy(False)
    off_steps = [s for ep in _play(spec, off) for s in ep.steps]
    assert sum(s.is_action_valid for s in off_steps) / len(off_steps) < 0.2


def test_a_short_budget_still_closes_the_think_block_in_time():
    spec, policy = _household_policy(True, max_new_tokens=10)  # '<think>' + a little + '</think>' + action
    steps = [s for ep in _play(spec, policy, games=4, turns=3) for s in ep.steps]
    assert all(s.is_action_valid for s in steps)
    assert all(s.generation.text.startswith("<think>") for s in steps)


def test_bpe_tokenizer_with_multi_token_tags():
    """A byte-level BPE tokenizer (trained here) splits the tags and the actions into pieces."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    spec = get_env_spec("household")
    texts = example_texts(sample_format_examples(spec.make(split="train"), spec, episodes=12, max_steps=8,
                                                 history_length=2, rng=random.Random(0)))
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "<eos>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token="<pad>", eos_token="<eos>")
    assert len(tok("<action>", add_special_tokens=False)["input_ids"]) > 1
    spec, policy = _household_policy(True, max_new_tokens=40, tokenizer=tok)
    steps = [s for ep in _play(spec, policy, games=4, turns=3) for s in ep.steps]
    assert steps and all(s.is_action_valid for s in steps)


def test_trie_masks_all_but_the_admissible_continuations():
    tok = build_word_tokenizer(["go to desk 1 go to shelf 2 take mug 1 from desk 1"])
    vocab = ActionVocabulary(tok, tok.eos_token_id, think=False)
    adm = ["go to desk 1", "go to shelf 2"]
    c = ActionConstraint(vocab, [adm, None], prompt_width=1, max_new_tokens=12)
    scores = torch.zeros((2, len(tok)))
    ids = torch.zeros((2, 1), dtype=torch.long)
    first = c(ids, scores)
    allowed = torch.isfinite(first[0]).nonzero().flatten().tolist()
    assert allowed == tok("<action>", add_special_tokens=False)["input_ids"]
    assert torch.isfinite(first[1]).all()  # row without admissible actions: free
    walk = tok("<action> go to", add_special_tokens=False)["input_ids"]
    for t in walk:
        ids = torch.cat([ids, torch.tensor([[t], [t]])], dim=1)
        out = c(ids, scores)
    allowed = set(torch.isfinite(out[0]).nonzero().flatten().tolist())
    assert allowed == {tok.convert_tokens_to_ids("desk"), tok.convert_tokens_to_ids("shelf")}
    assert build_trie([]).depth == 0


def test_open_actions_and_unspellable_actions_leave_the_row_free():
    tok = build_word_tokenizer(["click buy now"])
    vocab = ActionVocabulary(tok, tok.eos_token_id, think=False)
    assert vocab.trie(["search[<your query>]", "click[buy now]"]) is None  # WebShop's free-text search
    assert vocab.trie(["go to zebra 9"]) is None  # words the tokenizer cannot spell
    assert vocab.trie(["click buy now"]) is not None


def test_forced_tokens_are_recorded_and_carry_no_loss():
    """Tokens the mask left alone (the think tag, the only continuation of an action, EOS) are
    marked forced; the turn batch gives them no loss, and branching tokens keep theirs."""
    from skillrl.trainer.local.batch import episodes_to_batch

    spec, policy = _household_policy(True)
    eps = _play(spec, policy, games=4, turns=3)
    steps = [s for ep in eps for s in ep.steps]
    tok = policy.tokenizer
    for s in steps:
        gen = s.generation
        assert len(gen.forced) == len(gen.response_ids)
        words = tok.convert_ids_to_tokens(list(gen.response_ids))
        assert gen.forced[0] and words[0] == "<think>"  # the opening tag is forced
        assert gen.forced[-1] and gen.response_ids[-1] == tok.eos_token_id  # EOS after </action>
        assert not all(gen.forced)  # the think text and the action choice are the policy's
    batch = episodes_to_batch(eps, [1.0] * len(eps), tok.pad_token_id)
    row = 0
    for s in steps:
        n = len(s.generation.response_ids)
        expected = torch.tensor([0.0 if f else 1.0 for f in s.generation.forced])
        assert torch.equal(batch.response_mask[row, :n], expected)
        row += 1
    # an unconstrained policy forces nothing: every generated token carries loss
    spec, off = _household_policy(False)
    assert all(s.generation.forced == () for ep in _play(spec, off, games=2, turns=2) for s in ep.steps)
