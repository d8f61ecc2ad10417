"""The SkillBank as a shared service for processes that must all see the same bank version.

verl runs agent loops in separate Ray worker processes, so the bank cannot be an object in the
trainer's memory. The trainer (or whoever evolves the bank) pushes versioned snapshots into a
:class:`BankService`; every reader asks for the current version once per episode and rebuilds
its retriever only when the version changed (:class:`RetrieverCache`).

Implementations:

- :class:`InProcessBankService` — a thread-safe in-memory store (tests, the local backend);
- :func:`ray_bank_service` — the same store inside a *named* Ray actor, reached by name from
  every process of the cluster (a thin wrapper: all logic is in the in-process class).

A snapshot is the bank's JSON text (the seed-compatible format) plus an integer version that
only grows.
"""

from __future__ import annotations

import abc
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class BankServiceError(RuntimeError):
    """Unknown snapshot version, invalid bank JSON, or an unreachable service."""


@dataclass(frozen=True)
class BankSnapshot:
    """One immutable version of the bank."""

    version: int
    """Monotonic version number (the first pushed bank is version 0 unless the service starts
    from a checkpoint, see ``initial_version``)."""
    bank_json: str
    """The bank in the seed-compatible JSON format."""


class BankService(abc.ABC):
    """Versioned bank store. Versions are assigned by the service and only grow."""

    @abc.abstractmethod
    def current_version(self) -> int:
        """The latest version, or -1 when no bank was pushed yet."""

    @abc.abstractmethod
    def get_snapshot(self, version: int | None = None) -> BankSnapshot:
        """The snapshot of ``version`` (None: the latest).

        Raises:
            BankServiceError: no bank yet, or ``version`` is unknown (old versions may be
                evicted, see ``keep``).
        """

    @abc.abstractmethod
    def update(self, bank_json: str) -> int:
        """Store a new bank; return its version.

        Raises:
            BankServiceError: ``bank_json`` is not a JSON object.
        """


def _check_bank_json(bank_json: str) -> None:
    try:
        data = json.loads(bank_json)
    except (TypeError, ValueError) as exc:
        raise BankServiceError(f"bank is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BankServiceError(f"bank JSON must be an object, got {type(data).__name__}")


class InProcessBankService(BankService):
    """Thread-safe in-memory :class:`BankService`.

    Args:
        initial_json: bank to store first (None: start empty).
        keep: how many most recent versions to keep (older ones are evicted).
        initial_version: version of ``initial_json`` (a run resumed from a checkpoint continues
            with the saved version; later updates count on from it).
    """

    def __init__(self, initial_json: str | None = None, keep: int = 4, initial_version: int = 0) -> None:
        if keep < 1:
            raise ValueError("keep must be >= 1")
        if initial_version < 0:
            raise ValueError("initial_version must be >= 0")
        self._keep = keep
        self._lock = threading.Lock()
        self._snapshots: dict[int, str] = {}
        self._latest = initial_version - 1
        if initial_json is not None:
            self.update(initial_json)

    def current_version(self) -> int:
        with self._lock:
            return self._latest

    def get_snapshot(self, version: int | None = None) -> BankSnapshot:
        with self._lock:
            if self._latest < 0:
                raise BankServiceError("the bank service holds no bank yet")
            v = self._latest if version is None else int(version)
            if v not in self._snapshots:
                raise BankServiceError(f"bank version {v} is not available (have {sorted(self._snapshots)})")
            return BankSnapshot(version=v, bank_json=self._snapshots[v])

    def update(self, bank_json: str) -> int:
        _check_bank_json(bank_json)
        with self._lock:
            self._latest += 1
            self._snapshots[self._latest] = bank_json
            for old in sorted(self._snapshots)[: -self._keep]:
                del self._snapshots[old]
            return self._latest


class RetrieverCache(Generic[T]):
    """Per-process cache of the object built from the latest bank (a retriever).

    ``get()`` asks the service for the current version (one cheap call) and rebuilds with
    ``build(bank_json, version)`` only when the version changed, so every episode uses the
    newest bank and a process never holds two retrievers at once.
    """

    def __init__(self, service: BankService, build: Callable[[str, int], T]) -> None:
        self._service = service
        self._build = build
        self._lock = threading.Lock()
        self._version = -1
        self._value: T | None = None

    @property
    def version(self) -> int:
        """Version of the cached object (-1: nothing built yet)."""
        return self._version

    def get(self) -> T:
        version = self._service.current_version()
        with self._lock:
            if self._value is None or version != self._version:
                snap = self._service.get_snapshot(version)
                self._value = self._build(snap.bank_json, snap.version)
                self._version = snap.version
                log.info("built skill retriever for bank version %d", snap.version)
            return self._value


# --- Ray ----------------------------------------------------------------------------------


class _RayBankClient(BankService):
    """A :class:`BankService` that forwards to the named Ray actor (blocking calls)."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def _call(self, method: str, *args: Any) -> Any:
        import ray

        return ray.get(getattr(self._handle, method).remote(*args))

    def current_version(self) -> int:
        return int(self._call("current_version"))

    def get_snapshot(self, version: int | None = None) -> BankSnapshot:
        v, text = self._call("get_snapshot_tuple", version)
        return BankSnapshot(version=int(v), bank_json=text)

    def update(self, bank_json: str) -> int:
        return int(self._call("update", bank_json))


class _BankActor:
    """Body of the Ray actor: an :class:`InProcessBankService` behind remote methods."""

    def __init__(self, initial_json: str | None, keep: int = 4, initial_version: int = 0) -> None:
        self._store = InProcessBankService(initial_json, keep=keep, initial_version=initial_version)

    def current_version(self) -> int:
        return self._store.current_version()

    def get_snapshot_tuple(self, version: int | None) -> tuple[int, str]:
        snap = self._store.get_snapshot(version)
        return snap.version, snap.bank_json

    def update(self, bank_json: str) -> int:
        return self._store.update(bank_json)


def scoped_actor_name(base: str, experiment_name: str, run_id: str) -> str:
    """The bank actor's name for one run: two jobs on one Ray cluster (or a resumed job next to
    an old one) never share a bank.

    >>> scoped_actor_name("skillrl_skill_bank", "grpo skills", "1a2b")
    'skillrl_skill_bank/grpo_skills/1a2b'
    """
    clean = lambda text: "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text))  # noqa: E731
    return f"{base}/{clean(experiment_name)}/{clean(run_id)}"


def ray_bank_service(
    name: str,
    initial_json: str | None = None,
    *,
    namespace: str | None = "skillrl",
    create: bool = True,
    initial_version: int = 0,
) -> BankService:
    """Connect to (or create) the named bank actor in the running Ray cluster.

    The first caller with ``create=True`` creates the actor with ``initial_json`` as version
    ``initial_version``; later callers attach to it (``get_if_exists``), so the trainer and every
    agent-loop worker share one bank. Scope ``name`` to the run (:func:`scoped_actor_name`).

    Raises:
        BankServiceError: Ray is not initialised, or ``create=False`` and no actor has that name.
    """
    import ray

    if not ray.is_initialized():
        raise BankServiceError("ray is not initialised: the shared bank needs a running Ray cluster")
    if create:
        actor_cls = ray.remote(num_cpus=0)(_BankActor)
        handle = actor_cls.options(name=name, namespace=namespace, get_if_exists=True).remote(
            initial_json, initial_version=initial_version
        )
    else:
        try:
            handle = ray.get_actor(name, namespace=namespace)
        except ValueError:
            raise BankServiceError(f"no skill-bank actor named {name!r} in namespace {namespace!r}") from None
    return _RayBankClient(handle)
