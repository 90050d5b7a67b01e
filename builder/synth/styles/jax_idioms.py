"""`jax_idioms`: plain JAX as experienced users write it, with no framework: `functools.partial(jax.jit,
static_argnames=...)` whose static arguments shape the program, `jax.vmap` of per-example functions,
`jax.tree.map` over parameter pytrees, `jax.lax.scan` over stacked layer weights, `jax.checkpoint`,
mixed precision with `preferred_element_type`; over attention (RoPE, GQA, causal and padding masks),
KV-cache decoding, residual stacks, tutorial MLPs, DP-SGD, LSTM / GRU scans, diffusion sampler steps,
MoE routing with capacity and GCNs."""

from __future__ import annotations

from .base import Draw, StyledProgram, fits, module
from .idiom_base import with_args_doc
from .idioms_attention import attention_block, kv_cache_decode, scan_stack
from .idioms_models import diffusion_step, gcn, moe_capacity
from .idioms_training import dp_sgd, recurrent, tutorial_mlp

CATEGORY = "jax_idioms"
FAMILIES = {attention_block: 2.0, kv_cache_decode: 1.5, scan_stack: 1.5, tutorial_mlp: 1.0, dp_sgd: 1.0, recurrent: 1.0, diffusion_step: 1.0, moe_capacity: 1.0, gcn: 1.0}


def generate(seed: int, max_args: int = 5) -> StyledProgram:
    d = Draw(seed)
    family = d.weighted(FAMILIES)  # drawn once: retries redraw its sizes, so every family keeps its share
    for _ in range(200):
        idiom = family(d)
        if len(idiom.args) > max_args:  # a family that needs more arguments than the config allows gives way
            family = d.weighted(FAMILIES)
        elif fits(idiom.args, idiom.activations, idiom.work):
            break
    else:
        raise RuntimeError(f"{CATEGORY} seed {seed}: no program fitted the size budget and {max_args} arguments")
    # the sizes live in the arguments: the docstring states them, as documented code does (and so two
    # draws that differ only in sizes are different programs to the plan's Python dedup)
    source = with_args_doc(module(sorted(idiom.imports), *idiom.blocks), idiom.entry_point, idiom.args)
    return StyledProgram(CATEGORY, idiom.entry_point, source, idiom.args, idiom.nodes, differentiable=idiom.differentiable, loop_trip_counts=list(idiom.loops))
