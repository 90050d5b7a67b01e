"""The generator: deterministic, well-typed, and every category's programs lower."""

from __future__ import annotations

import ast

import pytest

from builder.lowering.extractor import extract
from builder.synth.generator import SizeLimits, generate
from builder.synth.ops import CATEGORIES, catalogue_for
from builder.synth.program import Tag, flatten_returns


@pytest.mark.parametrize("category", CATEGORIES)
def test_same_seed_same_source(category):
    assert generate(category, 11).render() == generate(category, 11).render()
    assert generate(category, 11).render() != generate(category, 12).render()


@pytest.mark.parametrize("category", CATEGORIES)
def test_declared_output_specs_match_what_jax_infers(category):
    """The generator's own type system agrees with JAX for every drawn statement that is returned."""
    for seed in range(12):
        program = generate(category, seed, SizeLimits(3, 15, 5))
        ir = extract(program.render(), program.entry_point, [v.spec for v in program.leaves], program.args_tree(), program.differentiable)
        assert ir.outputs == [v.spec for v in flatten_returns(program.returns)], (category, seed)


@pytest.mark.parametrize("category", CATEGORIES)
def test_programs_use_their_category(category):
    names = {o.name for o in catalogue_for(category)}
    for seed in range(10):
        program = generate(category, seed)
        assert any(node.op.name in names for node in program.nodes)


def test_statement_count_follows_limits():
    """Dead statements are pruned, and the generator draws until the live ones reach the target
    (the last statement drawn may pass it by a few); a `params` dict of weights is one argument."""
    for seed in range(20):
        program = generate("arithmetic", seed, SizeLimits(5, 5, 3))
        body = [n for n in program.nodes if n.op.name != "constant"]
        assert 5 <= len(body) <= 8, (seed, len(body))
        assert len(program.params) <= 3


def test_source_is_a_plain_module():
    tree = ast.parse(generate("composite", 5).render())
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert len(funcs) == 1
    assert all(isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef)) for n in tree.body)


# --- signatures, dtypes and sizes across categories -------------------------------------------
SAMPLE = [(c, s) for c in CATEGORIES for s in range(15)]  # drawing is cheap: no lowering here


def _sample_programs():
    return [generate(c, s) for c, s in SAMPLE]


def test_signatures_take_one_to_five_arguments_with_pytrees_and_python_scalars():
    programs = _sample_programs()
    counts = [len(p.params) for p in programs]
    assert min(counts) >= 1 and max(counts) <= 5
    assert {param.kind for p in programs for param in p.params} >= {"array", "dict"}
    assert any(param.kind == "tuple" for s in range(60) for param in generate("nn", s).params), "no tuple argument"
    assert any(leaf.spec.weak_type for p in programs for leaf in p.leaves), "no Python scalar argument drawn"
    assert any(isinstance(v, dict) for p in programs for param in p.params if isinstance(param.tree, dict)
               for v in param.tree.values()), "no nested pytree argument drawn"


def test_arguments_spread_over_dtypes_ranks_and_odd_shapes():
    leaves = [leaf.spec for c in CATEGORIES for s in range(40) for leaf in generate(c, s).leaves]
    dtypes = {s.dtype for s in leaves}
    assert {"float32", "float16", "bfloat16", "int32", "int8", "uint8", "bool", "complex64"} <= dtypes, dtypes
    assert {s.rank for s in leaves} >= {0, 1, 2, 3, 4}
    assert any(1 in s.shape for s in leaves), "no size-1 dim"
    assert any(s.rank == 2 and s.shape[0] != s.shape[1] for s in leaves), "no non-square matrix"


def test_python_scalars_lower_as_weakly_typed_scalars():
    """A Python float argument takes the dtype of the array it meets: bf16 * lr stays bf16."""
    from builder.lowering.extractor import abstract_args
    from builder.synth.specs import TensorSpec, python_scalar

    leaves = [TensorSpec((4,), "bfloat16"), python_scalar("float32")]
    x, lr = abstract_args(leaves, "(0, 1)")
    assert lr.weak_type and not x.weak_type
    source = "import jax\n\ndef f(x, lr):\n    return x * lr\n"
    assert extract(source, "f", leaves, "(0, 1)").outputs == [TensorSpec((4,), "bfloat16")]


def test_nested_pytree_arguments_round_trip_through_args_tree():
    """`args_tree` rebuilds the call, and each leaf's name is its path in that call."""
    import jax

    from builder.lowering.extractor import abstract_args

    program = next(p for p in (generate("nn", s) for s in range(20)) if any("][" in leaf.name for leaf in p.leaves))
    args = abstract_args([leaf.spec for leaf in program.leaves], program.args_tree())
    paths = [path for path, _ in jax.tree_util.tree_flatten_with_path(args)[0]]
    names = [program.params[p[0].idx].name + jax.tree_util.keystr(p[1:]) for p in paths]
    assert names == [leaf.name for leaf in program.leaves]


def test_blocks_count_toward_size_by_their_lines():
    """A multi-line block (an attention layer) counts as the statements it writes, so the size
    limits bound the program's length, not its number of blocks."""
    from builder.synth.program import Tag

    for seed in range(10):
        program = generate("nn", seed, SizeLimits(3, 12, 5))
        drawn = [n for n in program.nodes if n.op.name != "constant"]
        before_last = sum(len(n.render()) if Tag.BLOCK in n.op.tags else 1 for n in drawn[:-1])
        assert before_last < 12, (seed, before_last)


def test_draw_falls_back_to_every_op_before_giving_up():
    """parallel seed 10038 once raised 'no op could be drawn' after the weighted tries missed."""
    program = generate("parallel", 10038)
    assert program.nodes


@pytest.mark.parametrize("category", ["arithmetic", "conditional", "matrix", "composite"])
def test_an_op_never_takes_the_same_value_twice(category):
    """`x - x`, `x / x`, `jnp.minimum(x, x)`, `jnp.where(m, a, a)` are not code people write (and
    cancel to constants): an op's partner operands are other values, new arguments or constants."""
    repeated = []
    for seed in range(150):
        program = generate(category, seed)
        for node in program.nodes:
            names = [v.name for v in node.inputs]
            if Tag.BLOCK not in node.op.tags and len(set(names)) < len(names):
                repeated.append((seed, node.render()))
    assert not repeated, repeated[:5]


def _computed(body: list[ast.stmt]) -> set[str]:
    """Names one function body computes (`hidden = jax.nn.relu(v)`), not in its nested functions."""
    names: set[str] = set()
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef):
            continue
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and not isinstance(node.value, ast.Name):
            names.add(node.targets[0].id)
        stack.extend(ast.iter_child_nodes(node))
    return names


def test_a_region_names_its_values_in_a_namespace_of_its_own():
    """Nested functions (branches, loop bodies) take role names again, as sibling functions do in
    real code, instead of numbering them (`hidden7`); the entry point's name is bound nowhere inside."""
    reused = 0
    for seed in range(60):
        program = generate("control_flow", seed)
        tree = ast.parse(program.render())
        entry = tree.body[-1]
        assert isinstance(entry, ast.FunctionDef) and entry.name == program.entry_point
        defs = [n for n in ast.walk(entry) if isinstance(n, ast.FunctionDef) and n is not entry]
        bound = {n.id for n in ast.walk(entry) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        assert program.entry_point not in bound | {d.name for d in defs} | {a.arg for d in defs for a in d.args.args}
        seen: set[str] = set()
        for d in defs:
            names = _computed(d.body)
            reused += bool(names & seen)
            seen |= names
    assert reused >= 30, reused
