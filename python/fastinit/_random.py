"""Seeds, streams and Generators: which Philox stream a fill draws from (docs/stream.md)."""

from __future__ import annotations

import operator
import threading

STREAM_LIMIT = 1 << 48
SEED_LIMIT = 1 << 64
# The process-wide default seed: fixed, like torch's default generator, so that a script
# that never seeds still gets the same weights on every run.
DEFAULT_SEED = 0x9E3779B97F4A7C15


def _check_int(value, name, limit):
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}") from None
    if not 0 <= value < limit:
        raise ValueError(f"{name} must be in [0, 2**{limit.bit_length() - 1}), got {value}")
    return value


class Generator:
    """A seed plus a stream counter: each fill that uses it draws the next stream.

    ``Generator(seed)`` hands stream 0 to its first call, 1 to the next, and so on, so
    consecutive calls differ and a sequence of calls is reproducible from the seed alone.
    """

    __slots__ = ("_seed", "_counter", "_lock", "__weakref__")

    def __init__(self, seed: int = DEFAULT_SEED, stream: int = 0):
        self._seed = _check_int(seed, "seed", SEED_LIMIT)
        self._counter = _check_int(stream, "stream", STREAM_LIMIT)
        self._lock = threading.Lock()

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def next_stream(self) -> int:
        """The stream the next call will use."""
        return self._counter

    def manual_seed(self, seed: int) -> "Generator":
        """Reset to ``seed`` and stream 0; returns self (like ``torch.Generator``)."""
        seed = _check_int(seed, "seed", SEED_LIMIT)
        with self._lock:
            self._seed, self._counter = seed, 0
        return self

    def take_stream(self) -> tuple[int, int]:
        """Returns (seed, stream) for one fill and advances the counter."""
        with self._lock:
            stream = self._counter
            if stream >= STREAM_LIMIT:
                raise RuntimeError("this Generator has used all 2**48 streams; reseed it")
            self._counter = stream + 1
            return self._seed, stream

    def get_state(self) -> tuple[int, int]:
        with self._lock:
            return self._seed, self._counter

    def __reduce__(self):
        # pickle, copy.copy and copy.deepcopy (a lock cannot be pickled): the copy starts at
        # the same (seed, next stream) and advances independently, as a NumPy Generator's does.
        return (Generator, self.get_state())

    def set_state(self, state: tuple[int, int]) -> None:
        seed, stream = state
        seed = _check_int(seed, "seed", SEED_LIMIT)
        stream = _check_int(stream, "stream", STREAM_LIMIT)
        with self._lock:
            self._seed, self._counter = seed, stream

    def __repr__(self) -> str:
        return f"fastinit.Generator(seed={self._seed}, next_stream={self._counter})"


default_generator = Generator(DEFAULT_SEED)


def manual_seed(seed: int) -> Generator:
    """Reseed the process-wide default Generator (used when neither seed= nor generator=)."""
    return default_generator.manual_seed(seed)


def resolve_stream(seed, stream, generator) -> tuple[int, int]:
    """(seed, stream) for one fill from the user's seed=/stream=/generator= arguments."""
    if generator is None and stream is None and type(seed) is int and 0 <= seed < SEED_LIMIT:
        return seed, 0  # the common stateless call, without the general checks' overhead
    if generator is not None:
        if seed is not None:
            raise ValueError("pass either seed= (stateless) or generator= (stateful), not both")
        if stream is not None:
            raise ValueError("stream= goes with seed=; a Generator chooses its own streams")
        take = getattr(generator, "take_stream", None)
        if take is None:
            raise TypeError(
                f"generator must be a fastinit.Generator, got {type(generator).__name__}"
            )
        return take()
    if seed is None:
        if stream is not None:
            raise ValueError("stream= needs seed=")
        return default_generator.take_stream()
    seed = _check_int(seed, "seed", SEED_LIMIT)
    stream = 0 if stream is None else _check_int(stream, "stream", STREAM_LIMIT)
    return seed, stream
