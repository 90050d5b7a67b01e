"""Seeded synthesis of a `Program` for a category.

The generator grows a typed SSA: each step asks the catalogue for an op of the
category (or a glue op), lets the op draw its operands from the values built so
far (or from new arguments), and binds the results. It knows nothing about any
single op. Everything it does is a function of `(category, seed, limits)`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from .ops import GLUE, REGION, catalogue_for
from .ops.base import Drawn, OpDecl, Operand, Region
from .ops.creation import constant_node, fold_node
from .program import Node, Param, Program, Returns, Value
from .specs import MAX_ELEMENTS, TensorSpec

DIMS = (1, 2, 3, 4, 5, 6, 7, 8, 8, 12, 16, 16, 24, 32, 64)
ARG_NAMES = ("x", "y", "z", "u", "v", "w", "a", "b", "c", "d")
PRIMARY_SHARE = 0.7
ENTRY_POINTS = ("f", "forward", "compute", "apply", "transform", "step", "kernel", "fn", "model", "run")
MAX_DRAW_TRIES = 12
MAX_RETURNS = 3
MAX_REGION_DEPTH = 2  # regions inside regions: a cond in a scan body, no deeper
NESTS = "nests"  # tag: a region op of the program's own category that may be drawn inside a region


@dataclass(frozen=True)
class SizeLimits:
    """How big a drawn program may be."""

    min_statements: int = 3
    max_statements: int = 40
    max_args: int = 5


class _ArgGroups:
    """Arguments as they are created, grouped into positional params (arrays, one tuple, one dict)."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.arrays: dict[str, Value] = {}
        self.dict_leaves: dict[str, Value] = {}
        self.tuple_leaves: list[Value] = []

    def count(self) -> int:
        return len(self.arrays) + len(self.dict_leaves) + len(self.tuple_leaves)

    def params(self) -> list[Param]:
        out = []
        for name in self.order:
            if name == "params":
                keys = tuple(sorted(self.dict_leaves))
                out.append(Param(name, "dict", tuple(self.dict_leaves[k] for k in keys), keys))
            elif name == "pair":
                out.append(Param(name, "tuple", tuple(self.tuple_leaves)))
            else:
                out.append(Param(name, "array", (self.arrays[name],)))
        return out


class _Builder:
    """The mutable state of one draw; implements the ops' `Draw` protocol."""

    def __init__(
        self, rng: random.Random, limits: SizeLimits, style: dict[str, bool], nestable: Sequence[OpDecl] = ()
    ) -> None:
        self.rng = rng
        self.nestable = tuple(nestable)  # category ops tagged NESTS, offered to regions besides REGION
        self.depth = 0
        self.limits = limits
        self.style = style
        self.args = _ArgGroups()
        self.pool: list[Value] = []
        self.used: set[str] = set()
        self.nodes: list[Node] = []
        self.names: dict[str, int] = {}
        self.allow_new_args = True
        self.anchor: Value | None = None
        for reserved in ("jax", "jnp", "lax", "params", "pair"):
            self.names[reserved] = 1

    # --- the Draw protocol -------------------------------------------------
    def fresh(self, hint: str) -> str:
        n = self.names.get(hint, 0) + 1
        self.names[hint] = n
        return hint if n == 1 else f"{hint}{n}"

    def random_spec(self, operand: Operand) -> TensorSpec:
        rng = self.rng
        dtype = rng.choice(operand.dtypes) if rng.random() < 0.35 else operand.dtypes[0]
        lo, hi = operand.min_rank, min(operand.max_rank, 4)
        ranks = [r for r in range(lo, hi + 1)]
        weights = [{0: 0.5, 1: 2.0, 2: 3.0, 3: 1.5, 4: 0.8}[r] for r in ranks]
        rank = rng.choices(ranks, weights)[0]
        while True:
            shape = tuple(max(operand.min_size, rng.choice(DIMS)) for _ in range(rank))
            spec = TensorSpec(shape, dtype)
            if spec.size <= MAX_ELEMENTS:
                return spec

    def pick(self, operand: Operand) -> Value | None:
        if self.anchor is not None:
            anchor, self.anchor = self.anchor, None
            return anchor
        fits = [v for v in self.pool if operand.fits(v.spec)]
        want_new = not fits or self.rng.random() < 0.08
        if want_new and self._may_add_arg():
            return self._new_arg(self.random_spec(operand))
        if not fits:
            return None
        # Prefer values nobody has consumed yet, and recent ones: that is how people chain code.
        weights = [(8.0 if v.name not in self.used else 1.0) * (1.0 + i / len(fits)) for i, v in enumerate(fits)]
        return self.rng.choices(fits, weights)[0]

    def need(self, spec: TensorSpec) -> Value:
        exact = [v for v in self.pool if v.spec == spec]
        unused = [v for v in exact if v.name not in self.used]
        if unused and self.rng.random() < 0.8:
            return self.rng.choice(unused)
        if exact and self.rng.random() < 0.5:
            return self.rng.choice(exact)
        if self._may_add_arg():
            return self._new_arg(spec)
        if exact:
            return self.rng.choice(exact)
        node = constant_node(self, spec)
        self._bind_node(node)
        return node.outputs[0]

    def body(self, specs: Sequence[TensorSpec], hint: str = "v", differentiable: bool = False) -> Region:
        """A nested region (a cond branch, a loop or scan body): fresh parameters of `specs`
        and a short chain of spec-preserving ops that ends in a value of `specs[0]`; with
        `differentiable`, only ops JAX can reverse-differentiate."""
        params = [Value(self.fresh(hint), s) for s in specs]
        target = specs[0]
        saved = (self.pool, self.nodes, self.allow_new_args, set(self.used))
        self.pool, self.nodes, self.allow_new_args = list(params), [], False
        current = params[0]
        self.depth += 1
        try:
            offered = REGION + (self.nestable if self.depth < MAX_REGION_DEPTH else ())
            candidates = [o for o in offered if o.operands[0].fits(target) and (o.differentiable or not differentiable)]
            for _ in range(self.rng.randint(1, 3)):
                drawn = self._try_draw(candidates, anchor=current) if candidates else None
                if drawn is None or drawn[1].outputs[0] != target:
                    break
                current = self._bind(*drawn).outputs[0]
            lines = [line for node in self.nodes for line in node.render()]
            nodes = list(self.nodes)
        finally:
            self.pool, self.nodes, self.allow_new_args, self.used = saved
            self.depth -= 1
        return Region(tuple(params), tuple(lines), current, all(n.op.differentiable for n in nodes))

    # --- internals ---------------------------------------------------------
    def _may_add_arg(self) -> bool:
        return self.allow_new_args and self.args.count() < self.limits.max_args

    def _new_arg(self, spec: TensorSpec) -> Value:
        args = self.args
        if self.style["dict_params"] and args.count() >= 1 and spec.is_float and spec.rank >= 1:
            key = self.fresh("w" if spec.rank >= 2 else "b")
            value = Value(f"params[{key!r}]", spec)
            if "params" not in args.order:
                args.order.append("params")
            args.dict_leaves[key] = value
        elif self.style["tuple_pair"] and len(args.tuple_leaves) < 2 and args.count() < 2:
            value = Value(f"pair[{len(args.tuple_leaves)}]", spec)
            if "pair" not in args.order:
                args.order.append("pair")
            args.tuple_leaves.append(value)
        else:
            name = next(n for n in ARG_NAMES + tuple(f"arg{i}" for i in range(20)) if n not in self.names)
            self.names[name] = 1
            value = Value(name, spec)
            args.order.append(name)
            args.arrays[name] = value
        self.pool.append(value)
        return value

    def _try_draw(self, ops: Sequence[OpDecl], anchor: Value | None = None) -> tuple[OpDecl, Drawn] | None:
        weights = [o.weight for o in ops]
        for _ in range(MAX_DRAW_TRIES):
            op = self.rng.choices(ops, weights)[0]
            if anchor is not None and not op.operands[0].fits(anchor.spec):
                continue
            self.anchor = anchor  # a region threads one value through: it is the first operand
            drawn = op.draw(self)
            self.anchor = None
            if drawn is not None and all(s.size <= MAX_ELEMENTS for s in drawn.outputs):
                return op, drawn
        return None

    def _bind(self, op: OpDecl, drawn: Drawn) -> Node:
        outs = tuple(
            Value(self.fresh(op.out_names[min(i, len(op.out_names) - 1)]), spec) for i, spec in enumerate(drawn.outputs)
        )
        node = Node(op, drawn.inputs, drawn.attrs, outs)
        self._bind_node(node)
        return node

    def _bind_node(self, node: Node) -> None:
        self.used.update(v.name for v in node.inputs)
        self.nodes.append(node)
        self.pool.extend(node.outputs)


def generate(category: str, seed: int, limits: SizeLimits = SizeLimits()) -> Program:
    """Draw the program for `(category, seed)`; the same arguments always give the same program."""
    rng = random.Random(seed)
    primary = catalogue_for(category)
    if not primary:
        raise ValueError(f"no ops are declared for category {category!r}")
    style = {"dict_params": rng.random() < 0.2, "tuple_pair": rng.random() < 0.1}
    b = _Builder(rng, limits, style, nestable=[o for o in primary if NESTS in o.tags])
    target = rng.randint(limits.min_statements, limits.max_statements)
    statements = 0
    while statements < target:
        ops = primary if statements == 0 or rng.random() < PRIMARY_SHARE else GLUE
        drawn = b._try_draw(ops)
        if drawn is None:
            drawn = b._try_draw(primary)
        if drawn is None:
            raise RuntimeError(f"category {category!r} seed {seed}: no op could be drawn")
        b._bind(*drawn)
        statements += 1
    if not b.args.count():
        raise RuntimeError(f"category {category!r} seed {seed}: program has no arguments")
    returns = _returns(rng, b)
    return Program(
        category=category,
        entry_point=rng.choice(ENTRY_POINTS),
        params=b.args.params(),
        nodes=b.nodes,
        returns=returns,
    )


def _returns(rng: random.Random, b: _Builder) -> Returns:
    """Return every value nobody consumed, so each statement shows in the IR; past
    `MAX_RETURNS`, the oldest are folded into one auxiliary scalar, as a loss adds terms."""
    produced = [v for n in b.nodes for v in n.outputs]
    sinks = [v for v in produced if v.name not in b.used]
    if not sinks:
        sinks = [produced[-1]]
    if len(sinks) > MAX_RETURNS:
        folded = sinks[: len(sinks) - MAX_RETURNS + 1]
        node = fold_node(b, folded)
        b._bind_node(node)
        sinks = [*sinks[len(folded):], node.outputs[0]]
    if len(sinks) == 1:
        return sinks[0]
    roll = rng.random()
    if roll < 0.6:
        return tuple(sinks)
    if roll < 0.85:
        return {v.name: v for v in sinks}
    return (sinks[0], tuple(sinks[1:]))
