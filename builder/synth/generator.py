"""Seeded synthesis of a `Program` for a category.

The generator grows a typed SSA: each step asks the catalogue for an op of the
category (or a glue op), lets the op draw its operands from the values built so
far (or from new arguments), and binds the results. It knows nothing about any
single op. Everything it does is a function of `(category, seed, limits)`.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .domains import Domain, argument_domain
from .names import entry_name, pick_family, pick_name, role_of
from .ops import GLUE, REGION, catalogue_for
from .ops.base import Drawn, OpDecl, Operand, Region, SpecTree
from .ops.creation import constant_node
from .program import Named, Node, Param, Program, Returns, Tag, Tree, Value, flatten_tree
from .specs import MAX_ELEMENTS, TensorSpec
from .styles import STYLES, StyledProgram
from .styles import generate as generate_styled

DIMS = (1, 2, 3, 4, 5, 6, 7, 8, 8, 12, 16, 16, 24, 32, 64)
ARG_NAMES = ("x", "y", "z", "u", "v", "w", "a", "b", "c", "d")
PRIMARY_SHARE = 0.7
MAX_DRAW_TRIES = 12
MAX_RETURNS = 3
RETURN_COUNTS = (1, 1, 2, 2, 3)  # how many results a program keeps: most functions return one value
REBIND_SHARE = 0.5  # `x = jnp.tanh(x)`: a spec-preserving step often rebinds its operand's name
MAX_REGROW = 6  # rounds of drawing more when pruning left the program under its target size
RESERVED = ("jax", "jnp", "lax", "params", "pair", "mesh", "P", "AbstractMesh", "partial", "np")
OPAQUE = "key<"  # typed PRNG keys (`key<fry>`) live inside a program and are never returned
MAX_LEAVES = 24  # array leaves over all arguments, pytrees of weights and state included
MAX_REGION_DEPTH = 2  # regions inside regions: a cond in a scan body, no deeper


@dataclass(frozen=True)
class SizeLimits:
    """How big a drawn program may be. `caps` lowers `max_statements` for some categories (what a
    length budget affords them: pipeline/budget.py), so a tight budget shapes programs, not only filters."""

    min_statements: int = 3
    max_statements: int = 40
    max_args: int = 5
    caps: tuple[tuple[str, int], ...] = ()

    def for_category(self, category: str) -> SizeLimits:
        """The limits a program of `category` is drawn with."""
        cap = dict(self.caps).get(category)
        if cap is None or cap >= self.max_statements:
            return SizeLimits(self.min_statements, self.max_statements, self.max_args)
        return SizeLimits(min(self.min_statements, cap), cap, self.max_args)


class _ArgGroups:
    """Arguments as they are created, grouped into positional params: arrays and Python scalars,
    one tuple `pair`, one dict `params` (loose leaves and named modules of weights), and named
    pytrees (`grads`, `opt_state`)."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.arrays: dict[str, Value] = {}
        self.dict_leaves: dict[str, Tree] = {}
        self.modules: set[str] = set()  # keys of `dict_leaves` that hold a module's weights
        self.tuple_leaves: list[Value] = []
        self.trees: dict[str, Tree] = {}

    def count(self) -> int:
        """Argument slots taken: one per array outside a pytree, one per pytree (`params` holds every weight)."""
        held = 1 if self.dict_leaves else 0
        return len(self.arrays) + held + len(self.tuple_leaves) + len(self.trees)

    def leaf_count(self) -> int:
        return sum(len(p.leaves) for p in self.params())

    def params(self) -> list[Param]:
        out = []
        for name in self.order:
            if name == "params":
                out.append(Param(name, dict(self.dict_leaves)))
            elif name == "pair":
                out.append(Param(name, tuple(self.tuple_leaves)))
            elif name in self.trees:
                out.append(Param(name, self.trees[name]))
            else:
                out.append(Param(name, self.arrays[name]))
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
        self.used: set[Value] = set()
        self.nodes: list[Node] = []
        self.names: dict[str, int] = dict.fromkeys(RESERVED, 1)
        self.allow_new_args = True
        self.anchor: Value | None = None
        self.helpers: list[str] = []
        self.uids = 0
        self.signs: dict[Value, str] = {}  # values known to be "positive" or "nonneg" (exp, softplus, abs, ...)
        self.leaves: set[Value] = set()  # the arguments' leaves: inputs with a recorded domain
        self.regional: list[set[str]] = []  # per op being drawn (innermost last): the names its regions bound
        self.released: set[str] = set()  # names that were bound in a region, free again once its op was drawn

    # --- the Draw protocol -------------------------------------------------
    def fresh(self, hint: str) -> str:
        return pick_name(self.rng, hint, self.names)

    def fresh_family(self, hint: str, count: int) -> list[str]:
        return pick_family(self.rng, hint, count, self.names)

    def is_argument(self, value: Value) -> bool:
        return value in self.leaves

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
        fits = [v for v in self.pool if operand.fits(v.spec) and self._within(v, operand.domain)]
        want_new = not fits or self.rng.random() < 0.08
        if want_new and self._may_add_arg():
            return self._new_arg(self.random_spec(operand), operand.domain)
        if not fits:
            return None
        # Prefer values nobody has consumed yet, and recent ones: that is how people chain code.
        weights = [(12.0 if v not in self.used else 1.0) * (1.0 + i / len(fits)) for i, v in enumerate(fits)]
        return self.rng.choices(fits, weights)[0]

    def need(self, spec: TensorSpec, avoid: Sequence[Value] = (), domain: str = "") -> Value:
        taken = {v.name for v in avoid}
        exact = [v for v in self.pool if v.spec == spec and v.name not in taken and self._within(v, domain)]
        unused = [v for v in exact if v not in self.used]
        if unused and self.rng.random() < 0.8:
            return self.rng.choice(unused)
        if exact and self.rng.random() < 0.5:
            return self.rng.choice(exact)
        if self._may_add_arg():
            return self._new_arg(spec, domain)
        if exact:
            return self.rng.choice(exact)
        learned = self._param_leaf(spec, domain)
        if learned is not None:
            return learned
        node = constant_node(self, spec, positive=bool(domain))
        self.signs[node.outputs[0]] = "positive" if domain else ""
        self._bind_node(node)
        return node.outputs[0]

    def body(self, specs: Sequence[TensorSpec], hint: str = "v", differentiable: bool = False) -> Region:
        """A nested region (a cond branch, a loop or scan body): fresh parameters of `specs`
        and a short chain of spec-preserving ops that ends in a value of `specs[0]`; with
        `differentiable`, only ops JAX can reverse-differentiate. The names it binds are its op's
        until the op is drawn (`_draw`), then free for the code after it: a region is a nested
        function, with a namespace of its own."""
        before = set(self.names)
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
            if self.regional:
                self.regional[-1].update(n for n in self.names if n not in before)
        return Region(tuple(params), tuple(lines), current, all(n.op.differentiable for n in nodes))

    def argument(self, spec: TensorSpec, hint: str, domain: Domain | None = None) -> Value | None:
        if not self._may_add_arg() or self.args.leaf_count() >= MAX_LEAVES:
            return None
        name = self.fresh(hint)
        value = self._leaf(name, spec, domain or argument_domain(spec, hint))
        self.args.order.append(name)
        self.args.arrays[name] = value
        self.pool.append(value)
        return value

    def argument_tree(self, hint: str, specs: SpecTree) -> Tree | None:
        if not self._may_add_arg() or self.args.leaf_count() + len(_spec_leaves(specs)) > MAX_LEAVES:
            return None
        name = self.fresh(hint)
        tree = _values_at(name, specs)
        self.args.order.append(name)
        self.args.trees[name] = tree  # its leaves are the asking op's alone: not offered to other ops
        return tree

    def weights(self, module: str, specs: SpecTree) -> tuple[str, Tree] | None:
        args = self.args
        if not self.allow_new_args or args.leaf_count() + len(_spec_leaves(specs)) > MAX_LEAVES:
            return None
        if "params" not in args.order and args.count() >= self.limits.max_args:
            return None
        key = next(k for k in (module, *(f"{module}{i}" for i in range(2, 100))) if k not in args.dict_leaves)
        prefix = f"params[{key!r}]"
        tree = _values_at(prefix, specs)
        if "params" not in args.order:
            args.order.append("params")
        args.dict_leaves[key] = tree
        args.modules.add(key)  # a module's weights are its own: not offered to other ops
        return prefix, tree

    def values_of(self, spec: TensorSpec) -> list[Value]:
        return [v for v in self.pool if v.spec == spec]

    def helper(self, source: str) -> None:
        if source not in self.helpers:
            self.helpers.append(source)

    # --- internals ---------------------------------------------------------
    def _may_add_arg(self) -> bool:
        return self.allow_new_args and self.args.count() < self.limits.max_args

    def _within(self, v: Value, domain: str) -> bool:
        """Whether `v` is known to lie in `domain` ("" any, "positive", "nonneg")."""
        sign = self.signs.get(v, "")
        return not domain or sign == "positive" or sign == domain

    def _leaf(self, name: str, spec: TensorSpec, domain: Domain | None) -> Value:
        """An argument leaf; one with a restricted domain is known to lie in it."""
        value = Value(name, spec, domain)
        self.leaves.add(value)
        if domain is not None and domain.kind == "positive":
            self.signs[value] = "positive"
        return value

    def _param_leaf(self, spec: TensorSpec, domain: str = "") -> Value | None:
        """A learned array as a leaf of the `params` dict (`params['kernel']`), when the signature has one
        (or room for one): weights are parameters, not constants built in the body."""
        args = self.args
        room = "params" in args.order or args.count() < self.limits.max_args
        if not (self.allow_new_args and room and spec.is_float and spec.rank >= 1 and args.leaf_count() < MAX_LEAVES):
            return None
        hint = "scale" if domain else "w" if spec.rank >= 2 else "b"
        key = self.fresh(hint)
        while key in args.dict_leaves:  # a module's weights took the name (`params['proj']`)
            key = self.fresh(hint)
        value = self._leaf(f"params[{key!r}]", spec, Domain("positive") if domain else None)
        if "params" not in args.order:
            args.order.append("params")
        args.dict_leaves[key] = value
        self.pool.append(value)
        return value

    def _new_arg(self, spec: TensorSpec, domain: str = "") -> Value:
        args = self.args
        weights_last = args.count() >= self.limits.max_args - 1 and args.count() >= 1  # keep the last slot for `params`
        if ((self.style["dict_params"] and args.count() >= 1) or weights_last) and spec.is_float and spec.rank >= 1:
            return self._param_leaf(spec, domain) or self._loose_arg(spec, domain)
        return self._loose_arg(spec, domain)

    def _loose_arg(self, spec: TensorSpec, domain: str = "") -> Value:
        args = self.args
        recorded = Domain("positive") if domain else None
        if self.style["tuple_pair"] and len(args.tuple_leaves) < 2 and args.count() < 2:
            value = self._leaf(f"pair[{len(args.tuple_leaves)}]", spec, recorded)
            if "pair" not in args.order:
                args.order.append("pair")
            args.tuple_leaves.append(value)
        else:
            name = next(n for n in ARG_NAMES + tuple(f"arg{i}" for i in range(20)) if n not in self.names)
            self.names[name] = 1
            value = self._leaf(name, spec, recorded)
            args.order.append(name)
            args.arrays[name] = value
        self.pool.append(value)
        return value

    def _try_draw(self, ops: Sequence[OpDecl], anchor: Value | None = None) -> tuple[OpDecl, Drawn] | None:
        weights = [o.weight for o in ops]
        for _ in range(MAX_DRAW_TRIES):
            op = self.rng.choices(ops, weights)[0]
            if anchor is not None and not (op.operands[0].fits(anchor.spec) and self._within(anchor, op.operands[0].domain)):
                continue
            self.anchor = anchor  # a region threads one value through: it is the first operand
            drawn = self._draw(op)
            self.anchor = None
            if drawn is not None and all(s.size <= MAX_ELEMENTS for s in drawn.outputs):
                return op, drawn
        return None

    def _try_each(self, ops: Sequence[OpDecl]) -> tuple[OpDecl, Drawn] | None:
        order = list(ops)
        self.rng.shuffle(order)
        for op in order:
            drawn = self._draw(op)
            if drawn is not None and all(s.size <= MAX_ELEMENTS for s in drawn.outputs):
                return op, drawn
        return None

    def _draw(self, op: OpDecl) -> Drawn | None:
        """`op.draw`, after which the names its regions bound are free again: they live in its
        nested functions (or, for a Python loop, are dead temporaries), so the code after it may
        use them as sibling functions in real code do."""
        self.regional.append(set())
        try:
            return op.draw(self)
        finally:
            for name in self.regional.pop():
                self.names.pop(name, None)
                self.released.add(name)

    def _bind(self, op: OpDecl, drawn: Drawn) -> Node:
        rebound = self._rebinds(op, drawn)
        names = drawn.names or ((rebound.name,) if rebound else tuple(
            self.fresh(role_of(op.name, op.out_names[min(i, len(op.out_names) - 1)])) for i in range(len(drawn.outputs))
        ))
        outs = tuple(self._value(name, spec) for name, spec in zip(names, drawn.outputs, strict=True))
        node = Node(op, drawn.inputs, drawn.attrs, outs)
        if rebound is not None:
            self.pool.remove(rebound)  # its name now holds the new value: the old one is out of reach
        if op.yields and len(outs) == 1:
            self.signs[outs[0]] = op.yields
        self._bind_node(node)
        return node

    def _rebinds(self, op: OpDecl, drawn: Drawn) -> Value | None:
        """The operand whose name a one-result statement takes over (`x = jnp.tanh(x)`), if any: a local
        value (not an argument) that nothing else read yet, drawn for a share of the statements."""
        if drawn.names or len(drawn.outputs) != 1 or Tag.BLOCK in op.tags or not drawn.inputs:
            return None
        x = drawn.inputs[0]
        if x.uid == 0 or x in self.used or x not in self.pool or not x.name.isidentifier():
            return None
        return x if self.rng.random() < REBIND_SHARE else None

    def _value(self, name: str, spec: TensorSpec) -> Value:
        self.uids += 1
        return Value(name, spec, uid=self.uids)

    def _bind_node(self, node: Node) -> None:
        self.used.update(node.inputs)
        self.nodes.append(node)
        # A pytree an op binds (`new_params['w']`) is a result to return whole, not an operand.
        self.pool.extend(v for v in node.outputs if v.name.isidentifier())


def generate(category: str, seed: int, limits: SizeLimits = SizeLimits()) -> Program | StyledProgram:
    """Draw the program for `(category, seed)`; the same arguments always give the same program.
    A styled category (flax, optax, idiomatic JAX: `styles.STYLES`) is written by its own module,
    whose size comes from its model family: of `limits` it honours `max_args` (config.py refuses
    statement limits it cannot honour)."""
    if category in STYLES:
        return generate_styled(category, seed, limits.max_args)
    limits = limits.for_category(category)
    rng = random.Random(seed)
    primary = catalogue_for(category)
    if not primary:
        raise ValueError(f"no ops are declared for category {category!r}")
    style = {"dict_params": rng.random() < 0.2, "tuple_pair": rng.random() < 0.1}
    b = _Builder(rng, limits, style, nestable=[o for o in primary if Tag.NESTS in o.tags])
    target = rng.randint(limits.min_statements, limits.max_statements)
    keep = rng.choice(RETURN_COUNTS)
    statements = 0
    for _ in range(MAX_REGROW):
        while statements < target:
            statements += _draw_statement(category, b, primary, first=not b.nodes)
        live = _live(b.nodes, _results(b.nodes, keep, primary))
        statements = sum(_size(n) for n in live)
        if statements >= min(target, limits.max_statements):
            break
    nodes = _live(b.nodes, _results(b.nodes, keep, primary))
    returns = _returns(rng, nodes)
    params = _used_params(b.args, nodes)
    if not params:
        raise RuntimeError(f"category {category!r} seed {seed}: program has no arguments")
    return Program(
        category=category,
        entry_point=entry_name(rng, category, [n.op.name for n in nodes], {*b.names, *b.released}),
        params=params,
        nodes=nodes,
        returns=returns,
        helpers=b.helpers,
    )


def _draw_statement(category: str, b: _Builder, primary: Sequence[OpDecl], first: bool) -> int:
    """Draw and bind one statement; how much it counts toward the program's size."""
    ops = primary if first or b.rng.random() < PRIMARY_SHARE else GLUE
    drawn = b._try_draw(ops)
    if drawn is None:
        drawn = b._try_draw(primary)
    if drawn is None:  # rare: weighted tries kept missing; try every op once, in a seeded order
        drawn = b._try_each([*primary, *GLUE])
    if drawn is None:
        raise RuntimeError(f"category {category!r}: no op could be drawn")
    return _size(b._bind(*drawn))


def _size(node: Node) -> int:
    return len(node.render()) if Tag.BLOCK in node.op.tags else 1


def _returnable(v: Value) -> bool:
    return not v.spec.dtype.startswith(OPAQUE)


def _results(nodes: Sequence[Node], keep: int, primary: Sequence[OpDecl]) -> list[Value]:
    """The values a program keeps as its results: of those nothing consumed, the `keep` with the most
    statements behind them (a pytree such as new params always, whole), the last one among them,
    and one that a statement of the program's own category reaches."""
    consumed = {v for n in nodes for v in n.inputs}
    producer = {v: i for i, n in enumerate(nodes) for v in n.outputs}
    open_ = [v for n in nodes for v in n.outputs if v not in consumed and _returnable(v)]
    if not open_:
        open_ = [v for v in nodes[-1].outputs if _returnable(v)] or list(nodes[-1].outputs)
    trees = [v for v in open_ if not v.name.isidentifier()]  # leaves of a pytree an op bound: returned whole
    plain = [v for v in open_ if v.name.isidentifier()]
    depth = {v: _ancestors(nodes, producer, [v]) for v in plain}
    reads = {v: any(u not in producer for i in depth[v] for u in nodes[i].inputs) for v in plain}  # an argument, at last
    ranked = sorted(plain, key=lambda v: (-reads[v], -len(depth[v]), -producer[v]))
    dtypes = {v.spec.dtype for v in ranked[:1]}  # then a result of another dtype before a second of the same
    ranked = ranked[:1] + sorted(ranked[1:], key=lambda v: v.spec.dtype in dtypes)
    chosen = ranked[: max(keep - bool(trees), 0)]
    if plain and plain[-1] not in chosen and not trees and reads[plain[-1]]:
        chosen = [*chosen[:-1], plain[-1]] if chosen else [plain[-1]]
    results = [*chosen, *trees]
    own = {i for i, n in enumerate(nodes) if n.op in primary}
    if own and not own & _ancestors(nodes, producer, results):
        reaching = [v for v in plain if own & depth[v]]
        results.append(max(reaching, key=lambda v: len(depth[v])) if reaching else next(
            v for v in open_ if own & _ancestors(nodes, producer, [v])))
    return results


def _ancestors(nodes: Sequence[Node], producer: dict[Value, int], values: Sequence[Value]) -> set[int]:
    """Indices of the statements `values` depend on."""
    seen: set[int] = set()
    stack = [producer[v] for v in values if v in producer]
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        stack.extend(producer[v] for v in nodes[i].inputs if v in producer)
    return seen


def _live(nodes: Sequence[Node], results: Sequence[Value]) -> list[Node]:
    """The statements the results depend on, in order: every other statement is dead and pruned."""
    producer = {v: i for i, n in enumerate(nodes) for v in n.outputs}
    keep = _ancestors(nodes, producer, results)
    return [n for i, n in enumerate(nodes) if i in keep]


def _returns(rng: random.Random, nodes: Sequence[Node]) -> Returns:
    """What the function returns: every value its statements compute that no later statement reads
    (so every statement reaches an output), a pytree an op bound to one variable (`new_params`) whole."""
    consumed = {v for n in nodes for v in n.inputs}
    items: list[Value | Named] = []
    for node in nodes:
        groups: dict[str, list[Value]] = {}  # pytrees the node bound, by variable
        for v in node.outputs:
            groups.setdefault(_root(v.name), []).append(v)
        for v in node.outputs:
            if v in consumed or not _returnable(v):
                continue
            group = groups[_root(v.name)]
            if v.name == _root(v.name):
                items.append(v)
            elif v is next(g for g in group if g not in consumed):
                items.append(_named_tree(group))
    if len(items) == 1:
        return items[0]
    roll = rng.random()
    if roll < 0.55:
        return tuple(items)
    if roll < 0.9:
        return {_return_key(v.name): v for v in items}
    return (items[0], tuple(items[1:]))


def _used_params(args: _ArgGroups, nodes: Sequence[Node]) -> list[Param]:
    """The positional parameters some statement reads: an argument only a pruned statement read is dropped."""
    read = {v for n in nodes for v in n.inputs}
    kept = _ArgGroups()
    kept.tuple_leaves = args.tuple_leaves  # `pair[i]` names its index: kept whole when any leaf is read
    for name in args.order:
        if name == "params":
            kept.dict_leaves = {k: t for k, t in args.dict_leaves.items() if any(v in read for v in flatten_tree(t))}
            used = bool(kept.dict_leaves)
        elif name == "pair":
            used = any(v in read for v in args.tuple_leaves)
        elif name in args.trees:
            kept.trees[name] = args.trees[name]
            used = any(v in read for v in flatten_tree(args.trees[name]))
        else:
            kept.arrays[name] = args.arrays[name]
            used = args.arrays[name] in read
        if used:
            kept.order.append(name)
    return kept.params()


def _return_key(name: str) -> str:
    return name if name.isidentifier() else re.sub(r"\W+", "_", name).strip("_")


def _path(name: str) -> tuple[str, tuple[Any, ...]]:
    """`root[k1][k2]` -> ("root", (k1, k2)); any other name is its own root with no keys."""
    try:
        expr = ast.parse(name, mode="eval").body
    except SyntaxError:
        return name, ()
    keys: list[Any] = []
    while isinstance(expr, ast.Subscript) and isinstance(expr.slice, ast.Constant):
        keys.insert(0, expr.slice.value)
        expr = expr.value
    return (expr.id, tuple(keys)) if keys and isinstance(expr, ast.Name) else (name, ())


def _root(name: str) -> str:
    return _path(name)[0]


def _named_tree(values: Sequence[Value]) -> Named:
    """Values named `root[k1][k2]...` regrouped as the pytree `root` they are the leaves of."""
    nested: dict[Any, Any] = {}
    for v in values:
        keys = _path(v.name)[1]
        level = nested
        for k in keys[:-1]:
            level = level.setdefault(k, {})
        level[keys[-1]] = v
    return Named(_root(values[0].name), _as_tree(nested))


def _as_tree(level: Any) -> Tree:
    if isinstance(level, Value):
        return level
    if all(isinstance(k, int) for k in level) and sorted(level) == list(range(len(level))):
        return tuple(_as_tree(level[i]) for i in range(len(level)))
    return {k: _as_tree(v) for k, v in level.items()}


def _spec_leaves(specs: SpecTree) -> list[TensorSpec]:
    if isinstance(specs, TensorSpec):
        return [specs]
    items = specs if isinstance(specs, tuple) else [specs[k] for k in sorted(specs)]
    return [leaf for item in items for leaf in _spec_leaves(item)]


def _values_at(prefix: str, specs: SpecTree) -> Tree:
    """Values named by their path under `prefix` (`grads['dense']['w']`), shaped like `specs`."""
    if isinstance(specs, TensorSpec):
        return Value(prefix, specs)
    if isinstance(specs, tuple):
        return tuple(_values_at(f"{prefix}[{i}]", s) for i, s in enumerate(specs))
    return {k: _values_at(f"{prefix}[{k!r}]", s) for k, s in specs.items()}
