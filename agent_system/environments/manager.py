"""Run a batch of text environments in worker processes.

:class:`EnvironmentManager` builds ``num_envs`` environments spread over ``num_workers`` spawned
processes (env ``i`` lives in worker ``i % num_workers``) and offers two ways to drive them:

* **batch calls** — ``reset(seeds)``, ``step(texts)``, ``admissible_actions()``: every worker
  gets its share of the batch at once, so workers run in parallel (ALFWorld's ~1.7 s reset
  must not serialise a batch). A GRPO group passes the same seed ``n`` times: the same seed
  always gives the same game.
* **handles** — ``manager.handles[i]`` is a :class:`TextEnv` that forwards each call to env
  ``i`` in its worker. Handles are thread-safe; handles of different workers run truly in
  parallel (the async agent loop calls them through ``asyncio.to_thread``), calls to envs of
  the same worker queue up behind a per-worker lock.

Crashes: when a worker process dies (or exceeds ``timeout_s`` per env call) it is restarted
with fresh envs, and every env it held is reported with the game it was playing —

* batch calls return an *error record* for those envs: ``obs == ""``, reward 0, ``done`` True,
  and ``info["error"]`` naming the worker, exit code and ``game_id`` (``info.extra`` is an
  :class:`Unplayed`; the batch never hangs);
* handle calls raise :class:`WorkerCrashedError` (``.game_id``, ``.env_index``).

Those envs must be ``reset`` before stepping again. Exceptions raised *by an env* (not a crash)
are re-raised in the caller (batch calls: the first one, after the whole batch finished).

Episode outcomes are recorded as episodes end (``done``, a crash, or a ``reset`` that abandons
an unfinished episode): :meth:`EnvironmentManager.success_by_type` gives
``{task_type: [won, total]}``.

Environments are named by their registry name (built with ``get_env_spec(name).make(**kwargs)``)
or by a ``"package.module:factory"`` string importable in a fresh interpreter (tests use this
for throw-away envs).
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing as mp
import os
import pickle
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from agent_system.environments.base import StepInfo, TextEnv, get_env_spec
from skillrl.utils.metrics import success_by_task_type

log = logging.getLogger(__name__)


class WorkerCrashedError(RuntimeError):
    """A worker process died (or hung) while serving an env; it has been restarted."""

    def __init__(self, message: str, *, env_index: int, game_id: str) -> None:
        super().__init__(message)
        self.env_index = env_index
        """Index of the env in the manager."""
        self.game_id = game_id
        """The game that env was playing ('' when none was started)."""


class RemoteEnvError(RuntimeError):
    """An env raised an exception that could not be sent back as itself."""


@dataclass(frozen=True)
class Unplayed:
    """``info.extra`` of the info the manager makes up for an env it could not (or did not) step."""

    error: str | None = None
    """What went wrong (a worker crash, an env exception); None for a skipped env."""
    skipped: bool | None = None
    """True when the caller skipped this env (a ``None`` text); None otherwise."""


# --------------------------------------------------------------------------- worker side
def resolve_factory(env: str) -> Callable[..., TextEnv]:
    """``"module:attr"`` -> that callable; anything else -> ``get_env_spec(env).make``."""
    if ":" in env:
        module_name, attr = env.split(":", 1)
        return getattr(importlib.import_module(module_name), attr)
    return get_env_spec(env).make


def _portable_exception(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a :class:`RemoteEnvError` with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RemoteEnvError(f"{type(exc).__name__}: {exc}")


def _worker_main(conn: Connection, env: str, env_kwargs: dict[str, Any], n_envs: int) -> None:
    """Worker loop: build envs, then answer ``[(local_index, method, args), ...]`` messages
    with ``[("ok", value) | ("err", exception), ...]`` until ``None`` or EOF."""
    try:
        factory = resolve_factory(env)
        envs = [factory(**env_kwargs) for _ in range(n_envs)]
    except BaseException as exc:  # report construction errors to the parent
        conn.send(("err", _portable_exception(exc), traceback.format_exc()))
        return
    conn.send(("ready", os.getpid(), ""))
    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            if msg is None:
                break
            results: list[tuple[str, Any]] = []
            for local, method, args in msg:
                try:
                    results.append(("ok", getattr(envs[local], method)(*args)))
                except Exception as exc:
                    results.append(("err", _portable_exception(exc)))
            try:
                conn.send(results)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                conn.send([("err", RemoteEnvError(f"env returned an unpicklable value: {exc}"))] * len(results))
    finally:
        for e in envs:
            try:
                e.close()
            except Exception:
                pass


# --------------------------------------------------------------------------- parent side
class _Crash(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass
class _Worker:
    index: int
    env_indices: list[int]
    proc: Any = None
    conn: Connection | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    restarts: int = 0


@dataclass
class _EnvState:
    game_id: str = ""
    task: str = ""
    task_type: str = ""
    running: bool = False


class EnvironmentManager:
    """A batch of ``num_envs`` environments in ``num_workers`` processes (see module docstring).

    Args:
        env: registered env name (``"alfworld"``) or ``"module:factory"``.
        num_envs: how many envs.
        env_kwargs: keyword arguments of the env factory (plain, picklable values).
        num_workers: worker processes (default ``min(num_envs, os.cpu_count())``).
        timeout_s: a worker that takes longer than this *per env call* is killed and treated
            as crashed.
        start_timeout_s: how long a worker may take to import and build its envs.
        start_method: multiprocessing start method (``"spawn"`` or ``"forkserver"``).

    Raises:
        Whatever the env factory raises (e.g. ``DataNotFoundError``), re-raised on construction.
    """

    def __init__(
        self,
        env: str,
        num_envs: int,
        env_kwargs: Mapping[str, Any] | None = None,
        num_workers: int | None = None,
        *,
        timeout_s: float = 300.0,
        start_timeout_s: float = 300.0,
        start_method: str = "spawn",
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.env = env
        self.num_envs = num_envs
        self.env_kwargs = dict(env_kwargs or {})
        self.num_workers = max(1, min(num_envs, num_workers or os.cpu_count() or 1))
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self._ctx = mp.get_context(start_method)
        self._workers = [
            _Worker(w, [i for i in range(num_envs) if i % self.num_workers == w]) for w in range(self.num_workers)
        ]
        self._envs = [_EnvState() for _ in range(num_envs)]
        self._records: list[dict[str, Any]] = []
        self._records_lock = threading.Lock()
        self._closed = False
        try:
            for w in self._workers:
                self._spawn(w)
            for w in self._workers:
                self._await_ready(w)
        except BaseException:
            self.close()
            raise
        self.handles: list[EnvHandle] = [EnvHandle(self, i) for i in range(num_envs)]
        """Per-env :class:`TextEnv` proxies (thread-safe)."""

    # ------------------------------------------------------------------ process management
    def _spawn(self, w: _Worker) -> None:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=_worker_main,
            args=(child, self.env, self.env_kwargs, len(w.env_indices)),
            name=f"skillrl-env-{self.env}-{w.index}",
            daemon=True,
        )
        proc.start()
        child.close()
        w.proc, w.conn = proc, parent

    def _await_ready(self, w: _Worker) -> None:
        try:
            status, payload, tb = self._recv(w, self.start_timeout_s)
        except _Crash as crash:
            raise RuntimeError(f"env worker {w.index} failed to start: {crash.detail}") from None
        if status == "err":
            log.debug("env worker %d failed to build its envs:\n%s", w.index, tb)
            raise payload

    def _recv(self, w: _Worker, timeout: float) -> Any:
        """Next message from ``w``; raises :class:`_Crash` on death, EOF or timeout."""
        assert w.conn is not None and w.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill(w)
                raise _Crash(f"worker {w.index} (pid {w.proc.pid}) timed out after {timeout:.0f} s")
            ready = wait([w.conn, w.proc.sentinel], timeout=remaining)
            if w.conn in ready:
                try:
                    return w.conn.recv()
                except (EOFError, OSError):
                    pass  # the pipe closed: the process is dying
            if w.conn in ready or w.proc.sentinel in ready:
                w.proc.join(timeout=5)
                raise _Crash(f"worker {w.index} (pid {w.proc.pid}) died with exit code {w.proc.exitcode}")

    def _kill(self, w: _Worker) -> None:
        if w.proc is not None and w.proc.is_alive():
            w.proc.kill()
            w.proc.join(timeout=5)

    def _restart(self, w: _Worker) -> None:
        self._kill(w)
        if w.conn is not None:
            w.conn.close()
        w.restarts += 1
        log.warning("restarting env worker %d (restart #%d)", w.index, w.restarts)
        self._spawn(w)
        self._await_ready(w)

    def worker_pid(self, env_index: int) -> int:
        """PID of the process hosting env ``env_index`` (for diagnostics and tests)."""
        return self._workers[env_index % self.num_workers].proc.pid

    @property
    def restarts(self) -> int:
        """Total worker restarts so far."""
        return sum(w.restarts for w in self._workers)

    # ------------------------------------------------------------------ calls
    def _run(self, calls: Sequence[tuple[int, str, tuple[Any, ...]]]) -> list[tuple[str, Any]]:
        """Run ``(env_index, method, args)`` calls, in parallel across workers.

        Returns one ``("ok", value) | ("err", exception) | ("crash", WorkerCrashedError)`` per call.
        """
        if self._closed:
            raise RuntimeError("the EnvironmentManager is closed")
        by_worker: dict[int, list[int]] = {}
        for k, (i, _, _) in enumerate(calls):
            if not 0 <= i < self.num_envs:
                raise IndexError(f"env index {i} out of range (num_envs={self.num_envs})")
            by_worker.setdefault(i % self.num_workers, []).append(k)
        workers = [self._workers[w] for w in sorted(by_worker)]
        out: list[tuple[str, Any]] = [("err", RuntimeError("not run"))] * len(calls)
        for w in workers:  # sorted order: no deadlock between concurrent batch calls
            w.lock.acquire()
        try:
            sent: list[_Worker] = []
            crashed: dict[int, str] = {}
            for w in workers:
                msg = [(calls[k][0] // self.num_workers, calls[k][1], calls[k][2]) for k in by_worker[w.index]]
                try:
                    assert w.conn is not None
                    w.conn.send(msg)
                    sent.append(w)
                except (OSError, BrokenPipeError) as exc:
                    crashed[w.index] = f"worker {w.index} pipe broken ({exc})"
            for w in sent:
                try:
                    results = self._recv(w, self.timeout_s * len(by_worker[w.index]))
                except _Crash as crash:
                    crashed[w.index] = crash.detail
                    continue
                for k, res in zip(by_worker[w.index], results):
                    out[k] = res
            for w_index, detail in crashed.items():
                w = self._workers[w_index]
                lost = [i for i in w.env_indices]
                for k in by_worker[w_index]:
                    i = calls[k][0]
                    game = self._envs[i].game_id
                    msg = f"env worker crashed while env {i} was playing game {game or '(none)'}: {detail}"
                    out[k] = ("crash", WorkerCrashedError(msg, env_index=i, game_id=game))
                for i in lost:
                    self._end_episode(i, won=False, error=detail)
                self._restart(w)
        finally:
            for w in workers:
                w.lock.release()
        return out

    def _call_one(self, i: int, method: str, *args: Any) -> Any:
        status, value = self._run([(i, method, args)])[0]
        if status == "ok":
            return value
        raise value

    # ------------------------------------------------------------------ bookkeeping
    def _end_episode(self, i: int, *, won: bool, error: str = "") -> None:
        st = self._envs[i]
        if not st.running:
            return
        st.running = False
        record = {"env_index": i, "game_id": st.game_id, "task_type": st.task_type, "won": won}
        if error:
            record["error"] = error
        with self._records_lock:
            self._records.append(record)

    def _after_reset(self, i: int, info: Mapping[str, Any]) -> None:
        self._end_episode(i, won=False)  # an unfinished episode abandoned by reset
        st = self._envs[i]
        st.game_id = str(info.get("game_id", ""))
        st.task = str(info.get("task", ""))
        st.task_type = str(info.get("task_type", ""))
        st.running = True

    def _after_step(self, i: int, done: bool, info: Mapping[str, Any]) -> None:
        if done:
            self._end_episode(i, won=bool(info.get("won", False)))

    def _unplayed_info(self, i: int, extra: Unplayed) -> StepInfo:
        st = self._envs[i]
        return StepInfo(won=False, task_type=st.task_type, is_action_valid=False, task=st.task,
                        game_id=st.game_id, action="", extra=extra)

    def _error_info(self, i: int, error: Exception) -> StepInfo:
        return self._unplayed_info(i, Unplayed(error=str(error)))

    @property
    def records(self) -> list[dict[str, Any]]:
        """Finished episodes: ``{env_index, game_id, task_type, won[, error]}``, in end order."""
        with self._records_lock:
            return list(self._records)

    def success_by_type(self) -> dict[str, list[int]]:
        """``{task_type: [won, total]}`` over :attr:`records`."""
        return success_by_task_type(self.records)

    def clear_records(self) -> None:
        with self._records_lock:
            self._records.clear()

    # ------------------------------------------------------------------ batch API
    def reset(
        self,
        seeds: Sequence[int | None] | None = None,
        tasks: Sequence[str | None] | None = None,
    ) -> list[tuple[str, Mapping[str, Any]]]:
        """Reset env ``i`` with ``seeds[i]`` / ``tasks[i]`` (same seed -> same game).

        Returns ``(obs, info)`` per env; a crashed env gives ``("", info)`` with ``info["error"]``.
        """
        n = self.num_envs
        seeds = list(seeds) if seeds is not None else [None] * n
        tasks = list(tasks) if tasks is not None else [None] * n
        if len(seeds) != n or len(tasks) != n:
            raise ValueError(f"expected {n} seeds/tasks, got {len(seeds)}/{len(tasks)}")
        results = self._run([(i, "reset", (seeds[i], tasks[i])) for i in range(n)])
        out: list[tuple[str, Mapping[str, Any]]] = []
        first_error: BaseException | None = None
        for i, (status, value) in enumerate(results):
            if status == "ok":
                self._after_reset(i, value[1])
                out.append(value)
            elif status == "crash":
                out.append(("", self._error_info(i, value)))
            else:
                first_error = first_error or value
                out.append(("", self._error_info(i, value)))
        if first_error is not None:
            raise first_error
        return out

    def step(self, texts: Sequence[str | None]) -> list[tuple[str, float, bool, Mapping[str, Any]]]:
        """Step env ``i`` with raw model text ``texts[i]`` (``None`` skips that env: its entry
        is ``("", 0.0, True, info)`` with ``info["skipped"] = True``).

        A crashed env gives ``("", 0.0, True, info)`` with ``info["error"]``.
        """
        if len(texts) != self.num_envs:
            raise ValueError(f"expected {self.num_envs} actions, got {len(texts)}")
        active = [i for i, t in enumerate(texts) if t is not None]
        results = self._run([(i, "step", (texts[i],)) for i in active])
        out: list[tuple[str, float, bool, Mapping[str, Any]]] = [
            ("", 0.0, True, self._unplayed_info(i, Unplayed(skipped=True))) for i in range(self.num_envs)
        ]
        first_error: BaseException | None = None
        for i, (status, value) in zip(active, results):
            if status == "ok":
                obs, reward, done, info = value
                self._after_step(i, done, info)
                out[i] = (obs, reward, done, info)
            elif status == "crash":
                out[i] = ("", 0.0, True, self._error_info(i, value))
            else:
                first_error = first_error or value
                out[i] = ("", 0.0, True, self._error_info(i, value))
        if first_error is not None:
            raise first_error
        return out

    def admissible_actions(self) -> list[list[str] | None]:
        """Admissible actions of every env (``None`` for a crashed env)."""
        results = self._run([(i, "admissible_actions", ()) for i in range(self.num_envs)])
        out: list[list[str] | None] = []
        for status, value in results:
            if status == "err":
                raise value
            out.append(value if status == "ok" else None)
        return out

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Stop every worker (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for w in self._workers:
            if w.conn is not None:
                try:
                    w.conn.send(None)
                except (OSError, BrokenPipeError):
                    pass
        for w in self._workers:
            if w.proc is not None:
                w.proc.join(timeout=10)
                self._kill(w)
            if w.conn is not None:
                w.conn.close()

    def __enter__(self) -> "EnvironmentManager":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class EnvHandle(TextEnv):
    """Env ``index`` of an :class:`EnvironmentManager`, usable wherever a :class:`TextEnv` is.

    Calls run in the worker process; a crash raises :class:`WorkerCrashedError` (the worker is
    restarted; reset before stepping again). ``close`` is a no-op: the manager owns the env.
    """

    def __init__(self, manager: EnvironmentManager, index: int) -> None:
        self.manager = manager
        self.index = index
        self.env_name = manager.env

    def reset(self, seed: int | None = None, task: str | None = None) -> tuple[str, StepInfo]:
        obs, info = self.manager._call_one(self.index, "reset", seed, task)
        self.manager._after_reset(self.index, info)
        return obs, info

    def step(self, action_text: str) -> tuple[str, float, bool, StepInfo]:
        obs, reward, done, info = self.manager._call_one(self.index, "step", action_text)
        self.manager._after_step(self.index, done, info)
        return obs, reward, done, info

    def admissible_actions(self) -> list[str] | None:
        return self.manager._call_one(self.index, "admissible_actions")

    def close(self) -> None:
        """No-op (the manager closes its envs)."""
