"""``LocalHFPolicy``: a batching HF ``transformers`` policy for the shared agent loop.

Many episodes run concurrently (``asyncio.gather``); each awaits :meth:`LocalHFPolicy.generate`
for one prompt. The policy collects the pending prompts and answers them with one
``model.generate`` call per batch (KV cache, left padding with an explicit attention mask).

Batching is deterministic. Each concurrent episode registers with :meth:`LocalHFPolicy.client`
(in the order the episodes start) and the policy flushes when *every* registered episode is
waiting for a generation (an episode that finishes leaves the count, so the others never wait
for it). A flush answers all waiting prompts, sorted by registration order and cut into batches
of ``max_batch_size``; so batch composition — and with a seeded torch RNG the sampled tokens —
depend only on the episodes, never on machine load. An episode busy in a slow env step is
waited for. Prompts from callers that did not register (tests, one-off calls) are flushed
after ``max_wait_s``, as no count tells when the batch is complete. A round that stays
incomplete for ``max_stall_s`` (a registered episode that neither asks nor leaves: a bug, or an
env call that hangs) is flushed with a warning naming the counts, so a run never waits forever.

Log-probabilities of the generated tokens are gathered on the model's device while generating
(a logits processor keeps one step's ``(bs, vocab)`` distribution, never all of them), and
copied to the CPU as ``(bs, new_len)``. They are the model's own distribution at the sampling
temperature, before any constraint mask.

With an :class:`~skillrl.trainer.local.constrained.ActionVocabulary` (``constrain=...``) the
text inside ``<action>…</action>`` is limited to the prompt's admissible actions (passed as
``generate(prompt, admissible=...)``); see :mod:`skillrl.trainer.local.constrained`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from skillrl.agent.episode import Generation
from skillrl.trainer.local.constrained import ActionConstraint, ActionVocabulary

log = logging.getLogger(__name__)

#: default seconds an unregistered caller's prompt waits for company before a flush
DEFAULT_MAX_WAIT_S = 0.2
#: default seconds an incomplete round of registered episodes waits before it is flushed anyway
DEFAULT_MAX_STALL_S = 300.0
#: default most prompts per ``model.generate`` call
DEFAULT_MAX_BATCH_SIZE = 256

#: the registration (order key) of the episode running in the current task
_CLIENT: contextvars.ContextVar[int | None] = contextvars.ContextVar("skillrl_policy_client", default=None)


def format_prompt(tokenizer: Any, prompt: str) -> str:
    """The text the model sees: the tokenizer's chat template with one user turn, or ``prompt``."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    return prompt


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """``(bs, len)`` positions counting only attended tokens (left padding gets 0)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def cut_at_eos(ids: Sequence[int], eos_ids: set[int]) -> list[int]:
    """Keep tokens up to and including the first EOS; nothing after it.

    >>> cut_at_eos([5, 6, 1, 0, 0], {1})
    [5, 6, 1]
    """
    out: list[int] = []
    for t in ids:
        out.append(int(t))
        if int(t) in eos_ids:
            break
    return out


class ChosenLogprobs:
    """A logits processor that gathers the log-probability of each generated token on device.

    At every step it keeps ``log_softmax(scores / temperature)`` of that step (one ``(bs,
    vocab)`` tensor) and, at the next step, gathers the entry of the token that was chosen;
    :meth:`finish` gathers the last one from the final sequences. ``generate`` (transformers 5)
    runs custom processors *before* its sampling warpers, so the scores seen here are the raw
    logits and the temperature is applied here, once (a test compares with the training
    forward at temperature 0.7). Place it before any processor that masks the distribution
    (the log-probs are the model's own).
    """

    def __init__(self, temperature: float) -> None:
        self.temperature = temperature
        self._prev: torch.Tensor | None = None
        self._picked: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._prev is not None:
            self._picked.append(self._prev.gather(-1, input_ids[:, -1:]).squeeze(-1))
        logits = scores.float()
        if self.temperature > 0:
            logits = logits / self.temperature
        self._prev = torch.log_softmax(logits, dim=-1)
        return scores

    def finish(self, sequences: torch.Tensor) -> torch.Tensor:
        """``(bs, new_len)`` log-probs on the CPU, given the final ``sequences`` (prompt + new)."""
        if self._prev is not None:
            self._picked.append(self._prev.gather(-1, sequences[:, -1:]).squeeze(-1))
            self._prev = None
        if not self._picked:
            return torch.zeros((sequences.shape[0], 0))
        return torch.stack(self._picked, dim=1).float().cpu()


@dataclass
class _Request:
    prompt: str
    admissible: tuple[str, ...] | None
    order: tuple[int, int]
    future: asyncio.Future[Generation]


class LocalHFPolicy:
    """Implements the agent loop's ``Policy`` protocol with a local HF causal LM.

    Args:
        model: a ``transformers`` causal LM (put on ``device`` by the caller).
        tokenizer: its tokenizer (needs a pad token; padding side is forced to left).
        max_new_tokens: generation budget per call.
        temperature: sampling temperature; ``0`` means greedy.
        max_batch_size: most prompts per ``generate`` call.
        max_wait_s: how long an unregistered caller's prompt waits for company.
        max_stall_s: how long a round of registered episodes may stay incomplete before the
            waiting prompts are answered anyway (with a warning).
        max_prompt_tokens: prompts longer than this keep their last tokens (None: no limit).
        constrain: an :class:`ActionVocabulary` to constrain actions to the admissible ones
            (None: unconstrained).
    """

    def __init__(self, model: Any, tokenizer: Any, *, max_new_tokens: int = 8, temperature: float = 1.0,
                 max_batch_size: int = DEFAULT_MAX_BATCH_SIZE, max_wait_s: float = DEFAULT_MAX_WAIT_S,
                 max_stall_s: float = DEFAULT_MAX_STALL_S, max_prompt_tokens: int | None = None, constrain: ActionVocabulary | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.max_stall_s = max_stall_s
        self.max_prompt_tokens = max_prompt_tokens
        self.constrain = constrain
        self._use_template = bool(getattr(tokenizer, "chat_template", None))
        eos = model.generation_config.eos_token_id if model.generation_config.eos_token_id is not None \
            else tokenizer.eos_token_id
        self.eos_ids: set[int] = set(eos if isinstance(eos, list) else [eos])
        self._pending: list[_Request] = []
        self._registered = 0
        self._next_client = itertools.count()
        self._next_call = itertools.count()
        self._changed: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self.num_generate_calls = 0
        self.generate_seconds = 0.0

    # -- protocol ------------------------------------------------------------------
    async def generate(self, prompt: str, *, admissible: Sequence[str] | None = None) -> Generation:
        """The model's answer to ``prompt``; ``admissible`` are the turn's admissible actions
        (used only when the policy constrains actions)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Generation] = loop.create_future()
        client = _CLIENT.get()
        # registered callers are ordered by registration; the others after them, in arrival order
        order = (0, client) if client is not None else (1, next(self._next_call))
        self._pending.append(_Request(prompt, tuple(admissible) if admissible is not None else None, order, fut))
        self._notify()
        if self._worker is None or self._worker.done():
            self._changed = asyncio.Event()
            self._worker = loop.create_task(self._batcher())
        return await fut

    @contextlib.contextmanager
    def client(self) -> Iterator[int]:
        """Register one concurrent episode for the duration of the block (module docstring).

        Enter it in the task that plays the episode, in a fixed order across episodes (the
        order of registration orders the batch rows). Yields the registration number.
        """
        number = next(self._next_client)
        token = _CLIENT.set(number)
        self._registered += 1
        try:
            yield number
        finally:
            self._registered -= 1
            _CLIENT.reset(token)
            self._notify()

    # -- batching ------------------------------------------------------------------
    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def _complete(self) -> bool:
        """Whether every registered episode is waiting (or, with none registered, never)."""
        waiting = sum(1 for r in self._pending if r.order[0] == 0)
        return self._registered > 0 and waiting >= self._registered

    async def _batcher(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._changed is not None
        while self._pending:
            if self._registered > 0:
                while self._registered > 0 and not self._complete():
                    self._changed.clear()
                    try:
                        await asyncio.wait_for(self._changed.wait(), self.max_stall_s)
                    except TimeoutError:
                        waiting = sum(1 for r in self._pending if r.order[0] == 0)
                        log.warning("policy batch incomplete for %.0f s: %d of %d registered episodes waiting; "
                                    "answering the %d waiting prompt(s) now", self.max_stall_s, waiting,
                                    self._registered, len(self._pending))
                        break
            else:  # unregistered callers only: wait a little for company
                deadline = loop.time() + self.max_wait_s
                while self._registered == 0 and len(self._pending) < self.max_batch_size:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    self._changed.clear()
                    try:
                        await asyncio.wait_for(self._changed.wait(), remaining)
                    except TimeoutError:
                        break
                if self._registered > 0:
                    continue  # an episode registered meanwhile: wait for the complete round
            requests = sorted(self._pending, key=lambda r: r.order)
            self._pending = []
            for start in range(0, len(requests), self.max_batch_size):
                batch = requests[start:start + self.max_batch_size]
                try:
                    results = self.generate_batch([r.prompt for r in batch], [r.admissible for r in batch])
                except Exception as exc:  # hand the failure to every waiting episode
                    for r in batch:
                        if not r.future.done():
                            r.future.set_exception(exc)
                    continue
                for r, gen in zip(batch, results):
                    if not r.future.done():
                        r.future.set_result(gen)

    # -- generation ----------------------------------------------------------------
    def encode_prompts(self, prompts: Sequence[str]) -> list[list[int]]:
        """Token ids of each prompt as the model sees it (template applied, truncated from the left)."""
        texts = [format_prompt(self.tokenizer, p) for p in prompts]
        enc = self.tokenizer(texts, add_special_tokens=not self._use_template)["input_ids"]
        if self.max_prompt_tokens:
            enc = [ids[-self.max_prompt_tokens:] for ids in enc]
        return [list(ids) for ids in enc]

    @torch.no_grad()
    def generate_batch(self, prompts: Sequence[str],
                       admissible: Sequence[Sequence[str] | None] | None = None) -> list[Generation]:
        """Generate for ``prompts`` in one ``model.generate`` call (synchronous)."""
        t0 = time.perf_counter()
        prompt_ids = self.encode_prompts(prompts)
        device = next(self.model.parameters()).device
        pad = self.tokenizer.pad_token_id
        width = max(len(ids) for ids in prompt_ids)
        input_ids = torch.full((len(prompt_ids), width), pad, dtype=torch.long)
        attention = torch.zeros((len(prompt_ids), width), dtype=torch.long)
        for i, ids in enumerate(prompt_ids):
            input_ids[i, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
            attention[i, width - len(ids):] = 1
        input_ids, attention = input_ids.to(device), attention.to(device)
        sample = self.temperature > 0
        recorder = ChosenLogprobs(self.temperature if sample else 0.0)
        processors: list[Any] = [recorder]
        constraint = None
        if self.constrain is not None and admissible is not None:
            candidate = ActionConstraint(self.constrain, list(admissible), prompt_width=width,
                                         max_new_tokens=self.max_new_tokens)
            if candidate.active:
                constraint = candidate
                processors.append(constraint)
        from transformers import LogitsProcessorList

        was_training = self.model.training
        self.model.eval()
        try:
            sequences = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                max_new_tokens=self.max_new_tokens,
                do_sample=sample,
                temperature=self.temperature if sample else None,
                top_k=None,
                top_p=None,
                pad_token_id=pad,
                eos_token_id=sorted(self.eos_ids),
                logits_processor=LogitsProcessorList(processors),
            )
        finally:
            if was_training:
                self.model.train()
        logps = recorder.finish(sequences)
        new = sequences[:, width:].cpu()
        results = []
        for i, ids in enumerate(prompt_ids):
            resp = cut_at_eos(new[i].tolist(), self.eos_ids)
            text_ids = [t for t in resp if t not in self.eos_ids]
            results.append(Generation(
                text=self.tokenizer.decode(text_ids, skip_special_tokens=True),
                prompt_ids=tuple(ids),
                response_ids=tuple(resp),
                logprobs=tuple(float(x) for x in logps[i, : len(resp)]),
                forced=tuple(constraint.forced[i][: len(resp)]) if constraint is not None else (),
            ))
        self.num_generate_calls += 1
        self.generate_seconds += time.perf_counter() - t0
        return results
