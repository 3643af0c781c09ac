"""Random small task graphs, for simulation tests and `intar bench sim`.

`random_graph(chooser)` builds a DAG of 2 to 6 tasks with the builder API. Every decision goes
through a `Chooser`, so one generator serves two drivers:

* `graphs()`: a hypothesis strategy; each decision is a draw, so failures shrink.
* `graph_from_seed(seed)`: a plain seeded generator (no hypothesis needed), for the benchmark.

The task kinds are those of `intar.hw.plan.SUPPORTED_KINDS` that have a generator in
`GENERATORS`, read at call time, so a kind the hardware learns to build is generated as soon as
it has a generator here. Tensors are int16 matrices, now and then rank 3 (CHW for upsample and
maxpool) or rank 1 (layernorm's gamma and beta, row vectors broadcast by add and mul), with
dimensions 2..32, mostly multiples of 4. Operands are the newest tensor (chains), an older one
(fan-out, also the same tensor twice) or a fresh input (fan-in); results nobody reads are
outputs, and now and then an intermediate one is too. Shifts and fixed-point positions follow a
rough magnitude estimate of every tensor (as `intar.kernels` chooses its shifts), so that
results neither vanish nor saturate everywhere.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from intar.frontend import Graph
from intar.frontend.builder import Tensor

if TYPE_CHECKING:
    from hypothesis.strategies import DrawFn, SearchStrategy

MIN_TASKS, MAX_TASKS = 2, 6
MIN_DIM, MAX_DIM = 2, 32
FULL_RANGE_BITS = 15
"""Magnitude (log2 of the largest |value|) of an input or weight: int16's full range."""
TARGET_BITS = 14
"""Magnitude a shift aims the result of a matmul, add or mul at."""


class Chooser(Protocol):
    """The source of every random decision; `integer` is inclusive at both ends."""

    def integer(self, lo: int, hi: int) -> int: ...


class SeededChooser:
    """Decisions from `random.Random(seed)`."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self._rng.randint(lo, hi)


class DrawChooser:
    """Decisions drawn by hypothesis (inside `st.composite`), so examples shrink."""

    def __init__(self, draw: DrawFn) -> None:
        from hypothesis import strategies as st

        self._draw = draw
        self._st = st

    def integer(self, lo: int, hi: int) -> int:
        return self._draw(self._st.integers(lo, hi))


def choice[T](ch: Chooser, options: Sequence[T]) -> T:
    """One of `options`; shrinks towards the first."""
    return options[ch.integer(0, len(options) - 1)]


def chance(ch: Chooser, percent: int) -> bool:
    """True with probability percent/100; shrinks towards False."""
    return ch.integer(0, 99) >= 100 - percent


@dataclass(frozen=True)
class RandomGraph:
    """A generated graph: its MLIR text (what is compiled) and what it is made of."""

    name: str
    mlir: str
    kinds: tuple[str, ...]  # the builder tasks, in order (before intar-task-cleanup)
    outputs: tuple[str, ...]

    def __repr__(self) -> str:
        # hypothesis prints the falsifying example with repr: show the whole graph.
        return f"RandomGraph {self.name} ({', '.join(self.kinds)}):\n{self.mlir}"


Accept = Callable[[Tensor], bool]


def _any(t: Tensor) -> bool:
    return True


@dataclass
class _Builder:
    ch: Chooser
    graph: Graph
    kinds: tuple[str, ...]
    n_tasks: int
    pool: list[Tensor] = field(default_factory=list)  # inputs and task results, oldest first
    mag: dict[int, int] = field(default_factory=dict)  # tensor index -> magnitude bits
    used: set[int] = field(default_factory=set)  # tensors read by some task
    tasks: list[Tensor] = field(default_factory=list)
    views: set[int] = field(default_factory=set)  # results of reshape and transpose
    strided: set[int] = field(default_factory=set)  # views that are not row-major (transposes)
    forced: Tensor | None = None  # the operand the next pick must return, if it fits

    def dim(self, lo: int = MIN_DIM, hi: int = MAX_DIM) -> int:
        """lo..hi: a multiple of 4 three times in four."""
        if hi < 4 or chance(self.ch, 25):
            return self.ch.integer(lo, hi)
        return 4 * self.ch.integer(max(1, -(-lo // 4)), hi // 4)

    def new_input(self, shape: tuple[int, ...]) -> Tensor:
        t = self.graph.input(shape, "i16")
        self.pool.append(t)
        self.mag[t.index] = FULL_RANGE_BITS
        return t

    def any_shape(self) -> tuple[int, ...]:
        """A matrix, and now and then a rank-3 tensor."""
        if chance(self.ch, 15):
            return (self.ch.integer(2, 3), self.dim(), self.dim())
        return (self.dim(), self.dim())

    def pick(self, ok: Accept = _any, new: Callable[[], tuple[int, ...]] | None = None) -> Tensor:
        """An operand that `ok` accepts: mostly the newest tensor (chains), sometimes an older
        one (fan-out) or a fresh input of shape `new()` (fan-in)."""
        if self.forced is not None and ok(self.forced):
            t = self.forced
        else:
            cands = [t for t in self.pool if ok(t)]
            if not cands or chance(self.ch, 15):
                t = self.new_input((new or self.any_shape)())
            elif chance(self.ch, 40):
                t = choice(self.ch, cands)
            else:
                t = cands[-1]
        self.forced = None
        self.used.add(t.index)
        return t

    def second_operand(self, like: Tensor) -> Tensor:
        """The rhs of an element-wise binary task: a tensor of `like`'s shape, or a row vector
        (broadcast over the rows)."""
        if chance(self.ch, 15):
            return self.weight(like.shape[-1:])
        cands = [t for t in self.pool if t.shape == like.shape]
        if cands and chance(self.ch, 50):
            t = choice(self.ch, cands)  # may be `like` itself: x + x
            self.used.add(t.index)
            return t
        if chance(self.ch, 50):
            return self.weight(like.shape)
        t = self.new_input(like.shape)
        self.used.add(t.index)
        return t

    def weight(self, shape: tuple[int, ...], value: np.ndarray | None = None) -> Tensor:
        t = self.graph.weight(shape, "i16", value=value)
        self.mag[t.index] = FULL_RANGE_BITS
        return t

    def result(self, t: Tensor, mag: int) -> Tensor:
        self.pool.append(t)
        self.tasks.append(t)
        self.mag[t.index] = max(1, min(FULL_RANGE_BITS, mag))
        return t

    def jitter(self) -> int:
        return self.ch.integer(-1, 1)

    def rng(self) -> np.random.Generator:
        """Numbers for explicit weight values, from one drawn seed."""
        return np.random.default_rng(self.ch.integer(0, 1 << 16))


def _rank(*ranks: int) -> Accept:
    return lambda t: len(t.shape) in ranks


def _small_chw(t: Tensor) -> bool:
    """Upsample: H, W <= 16, so that the result's stay within 32."""
    return len(t.shape) == 3 and max(t.shape[1:]) <= MAX_DIM // 2


def _large_chw(t: Tensor) -> bool:
    """Maxpool: H, W >= 4, so that the result's are at least 2."""
    return len(t.shape) == 3 and min(t.shape[1:]) >= 2 * MIN_DIM


def _matmul(b: _Builder) -> None:
    lhs = b.pick(_rank(2), lambda: (b.dim(), b.dim()))
    k = lhs.shape[1]
    # The rhs: an activation already in the graph (as in Q·Kᵀ or A·V), or a weight.
    acts = [t for t in b.pool if len(t.shape) == 2 and k in t.shape]
    if acts and chance(b.ch, 30):
        rhs = choice(b.ch, acts)
        b.used.add(rhs.index)
        transpose = rhs.shape[0] != k or (rhs.shape[1] == k and chance(b.ch, 50))
    else:
        n = b.dim()
        transpose = chance(b.ch, 30)
        rhs = b.weight((n, k) if transpose else (k, n))
    exact = b.mag[lhs.index] + b.mag[rhs.index] + k.bit_length() // 2 - 1
    shift = max(0, exact - TARGET_BITS + b.jitter())
    if "requantize" in b.kinds and len(b.tasks) + 2 <= b.n_tasks and chance(b.ch, 20):
        # The raw i32 product and its requantize: intar-fuse-requantize folds the pair.
        acc = b.graph.matmul(lhs, rhs, transpose_rhs=transpose, out="i32")
        b.tasks.append(acc)
        out = b.graph.requantize(acc, shift=shift, out="i16")
    else:
        out = b.graph.matmul(lhs, rhs, transpose_rhs=transpose, shift=shift, out="i16")
    b.result(out, exact - shift)


def _binary(kind: str) -> Callable[[_Builder], None]:
    def gen(b: _Builder) -> None:
        x = b.pick()
        y = b.second_operand(x)
        mx, my = b.mag[x.index], b.mag[y.index]
        exact = max(mx, my) + 1 if kind == "add" else mx + my
        shift = max(0, exact - TARGET_BITS + b.jitter())
        op = b.graph.add if kind == "add" else b.graph.mul
        b.result(op(x, y, shift=shift, out="i16"), exact - shift)

    return gen


def _relu(b: _Builder) -> None:
    x = b.pick()
    b.result(b.graph.relu(x), b.mag[x.index])


def _requantize(b: _Builder) -> None:
    x = b.pick()
    shift = b.ch.integer(0, 3)
    b.result(b.graph.requantize(x, shift=shift, out="i16"), b.mag[x.index] - shift)


def _fixed_point(kind: str) -> Callable[[_Builder], None]:
    """exp, gelu, silu: frac_bits put the input's magnitude at 2^2..2^5 (the interesting range
    of exp and of the PWL tables, ±4 for gelu and ±16 for silu)."""

    def gen(b: _Builder) -> None:
        x = b.pick()
        m = b.mag[x.index]
        frac = min(15, max(0, m - b.ch.integer(2, 5)))
        op = getattr(b.graph, kind)
        b.result(op(x, frac_bits=frac), FULL_RANGE_BITS if kind == "exp" else m)

    return gen


def _softmax(b: _Builder) -> None:
    x = b.pick()
    m = b.mag[x.index]
    frac = min(15, max(0, m - b.ch.integer(2, 6)))
    out_frac = b.ch.integer(10, 15)  # 15: a dominant element saturates at 1.0
    causal = chance(b.ch, 20)
    b.result(b.graph.softmax(x, frac_bits=frac, out_frac_bits=out_frac, causal=causal), out_frac)


def _layernorm(b: _Builder) -> None:
    """gamma in ±[1/2, 2) and beta in ±1 (Q.frac_bits), so that y = z·gamma + beta stays in
    range for z-scores up to ~3."""
    x = b.pick()
    n = x.shape[-1]
    frac = b.ch.integer(8, 12)
    rng = b.rng()
    sign = rng.choice(np.array([-1, 1]), size=n)
    gamma = sign * rng.integers(1 << (frac - 1), 1 << (frac + 1), size=n)
    beta = rng.integers(-(1 << frac), (1 << frac) + 1, size=n)
    out = b.graph.layernorm(x, b.weight((n,), gamma), b.weight((n,), beta), frac_bits=frac)
    b.result(out, frac + 2)


def _upsample(b: _Builder) -> None:
    x = b.pick(_small_chw, lambda: (b.ch.integer(2, 3), b.dim(hi=16), b.dim(hi=16)))
    b.result(b.graph.upsample(x), b.mag[x.index])


def _maxpool(b: _Builder) -> None:
    x = b.pick(_large_chw, lambda: (b.ch.integer(2, 3), b.dim(lo=4), b.dim(lo=4)))
    b.result(b.graph.maxpool(x), b.mag[x.index])


# Views the hardware template builds: a reader sees a view as a block of its source matrix,
# read as is or transposed (intar.hw.plan.operand). A view that re-cuts rows (changes the
# last dimension other than by a matrix transpose) or a rank-3 transpose is rejected with
# "the view of 'x' read by 'y' is not built", so the generator makes only the views below.


def _reshapes(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Reshapes that keep the rows: leading dimensions merged into rows, or rows split into a
    batch (dimensions within 2..32)."""
    if len(shape) == 3:
        return [(shape[0] * shape[1], shape[2])] if shape[0] * shape[1] <= MAX_DIM else []
    r, c = shape
    return [(k, r // k, c) for k in (2, 3, 4) if r % k == 0 and r // k >= MIN_DIM]


def _reshape(b: _Builder) -> None:
    # Only row-major operands: the reshape of a transpose would need a copy.
    x = b.pick(
        lambda t: t.index not in b.strided and bool(_reshapes(t.shape)),
        lambda: (4 * b.ch.integer(1, MAX_DIM // 4), b.dim()),
    )
    out = b.result(b.graph.reshape(x, choice(b.ch, _reshapes(x.shape))), b.mag[x.index])
    b.views.add(out.index)


def _transpose(b: _Builder) -> None:
    x = b.pick(_rank(2), lambda: (b.dim(), b.dim()))
    t = b.result(b.graph.transpose(x, (1, 0)), b.mag[x.index])
    b.views.add(t.index)
    b.strided.add(t.index)


@dataclass(frozen=True)
class Generator:
    """Adds one task of its kind to the graph under construction.

    A view (reshape, transpose) comes with a task that reads it at once: a view is not
    materialized, so a view nobody reads would be a graph output that is a view.
    """

    add: Callable[[_Builder], None]
    view: bool = False
    reads: Accept = _any  # which tensors it can take as its (first) operand


GENERATORS: dict[str, Generator] = {
    "matmul": Generator(_matmul, reads=_rank(2)),
    "relu": Generator(_relu),
    "requantize": Generator(_requantize),
    "add": Generator(_binary("add")),
    "mul": Generator(_binary("mul")),
    "exp": Generator(_fixed_point("exp")),
    "gelu": Generator(_fixed_point("gelu")),
    "silu": Generator(_fixed_point("silu")),
    "softmax": Generator(_softmax),
    "layernorm": Generator(_layernorm),
    "upsample": Generator(_upsample, reads=_small_chw),
    "maxpool": Generator(_maxpool, reads=_large_chw),
    "reshape": Generator(_reshape, view=True),
    "transpose": Generator(_transpose, view=True),
}
"""A generator per task kind: it picks operands from the graph so far and adds one task.

conv2d and conv_transpose2d have none on purpose: the template holds a conv's input and result
flat (`intar.hw.plan.Flat`), so only convs, stores and the element-wise / resampling SFUs may
read a conv result, and a conv's input may not be a view or a matmul result. A generator
would have to keep every later pick within those rules; `test/python/hw/test_design_conv.py`
covers the conv kinds with fixed graphs instead."""


def supported_kinds() -> tuple[str, ...]:
    """The kinds the hardware builds (read now) that have a generator."""
    from intar.hw.plan import SUPPORTED_KINDS

    return tuple(k for k in SUPPORTED_KINDS if k in GENERATORS)


def random_graph(
    ch: Chooser, name: str = "random", kinds: Sequence[str] | None = None
) -> RandomGraph:
    """A random graph of 2..6 tasks of `kinds` (default: `supported_kinds()`; each must have a
    generator)."""
    kinds = tuple(supported_kinds() if kinds is None else kinds)
    computing = [k for k in kinds if not GENERATORS[k].view]
    if not computing:
        raise ValueError(f"no computing task kind among {kinds}")
    # Views only if some computing kind can read any view.
    views = (
        [k for k in kinds if GENERATORS[k].view]
        if any(GENERATORS[k].reads is _any for k in computing)
        else []
    )
    b = _Builder(ch, Graph(name), kinds, ch.integer(MIN_TASKS, MAX_TASKS))
    while len(b.tasks) < b.n_tasks:
        room = b.n_tasks - len(b.tasks)
        gen = GENERATORS[choice(ch, computing + (views if room >= 2 else []))]
        gen.add(b)
        if gen.view:  # and its reader
            view = b.forced = b.tasks[-1]
            GENERATORS[choice(ch, [k for k in computing if GENERATORS[k].reads(view)])].add(b)
    # Every result nobody reads is an output; now and then an intermediate one is too.
    outs = [
        t
        for t in b.pool
        if t in b.tasks and t.index not in b.views and (t.index not in b.used or chance(ch, 15))
    ]
    b.graph.output(*outs)
    return RandomGraph(
        name,
        b.graph.to_mlir(),
        tuple(n.kind for n in b.graph.nodes if n.kind not in ("input", "weight")),
        tuple(t.name for t in outs),
    )


def graph_from_seed(seed: int, name: str | None = None) -> RandomGraph:
    """The benchmark's graph number `seed` (the same on every machine)."""
    return random_graph(SeededChooser(seed), name or f"random{seed}")


def graphs(name: str = "random") -> SearchStrategy[RandomGraph]:
    """A hypothesis strategy of random graphs."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw: DrawFn) -> RandomGraph:
        return random_graph(DrawChooser(draw), name)

    return build()
