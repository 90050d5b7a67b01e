"""Names a person would give: what a value is (`logits`, `mask`, `hidden`), what a function does.

The generator asks for a name by role (a hint such as `"act"` or `"mean"`); each role has
several names real code uses for it, drawn by seed, so the same role reads differently from
row to row and a numbered name (`hidden2`) appears only when a program has used them all.
An op that declares no role of its own gets one from its name (`jnp.tanh` -> `act`).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence

# role -> names real code gives a value of that role (first: the most common)
ROLES: dict[str, tuple[str, ...]] = {
    "h": ("out", "hidden", "result", "values", "features", "outputs"),
    "act": ("hidden", "activations", "act", "features", "activated"),
    "exp": ("exps", "exp_x", "unnormalized", "growth", "scale_factor"),
    "log": ("log_x", "logs", "log_values", "log_scale"),
    "root": ("root", "magnitude", "rms", "std", "sqrt_x"),
    "inv": ("inv", "inv_scale", "inv_norm", "recip"),
    "trig": ("phase", "angle", "wave", "rotation", "angles"),
    "square": ("squared", "sq", "energy", "power"),
    "sum": ("combined", "total", "summed", "merged", "residual", "mixed"),
    "diff": ("delta", "diff", "centered", "offset", "shifted", "error"),
    "prod": ("scaled", "weighted", "product", "gated", "modulated"),
    "ratio": ("ratio", "normalized", "rescaled", "relative"),
    "clamp": ("clamped", "bounded", "clipped", "capped", "floored"),
    "neg": ("neg", "negated", "flipped"),
    "abs": ("magnitude", "abs_x", "amplitude"),
    "sign": ("signs", "direction", "polarity"),
    "round": ("rounded", "quantized", "bucketed", "steps_taken"),
    "r": ("reduced", "pooled", "summary", "stats", "totals"),
    "total": ("total", "sums", "row_sums", "col_sums", "summed"),
    "mean": ("mean", "avg", "mu", "center", "average"),
    "max": ("peak", "max_val", "upper", "maxima", "largest"),
    "min": ("floor_val", "lower", "minima", "smallest"),
    "var": ("var", "variance", "spread", "sigma_sq"),
    "std": ("std", "sigma", "scale", "stddev"),
    "idx": ("idx", "indices", "best", "argmax_idx", "pos"),
    "count": ("count", "num_active", "n_valid"),
    "mask": ("mask", "valid", "keep", "is_positive", "active", "in_range"),
    "sel": ("selected", "chosen", "masked", "picked", "gated", "filtered"),
    "t": ("transposed", "flipped", "swapped", "permuted"),
    "tr": ("transposed", "flipped", "swapped", "permuted"),
    "v": ("operand", "val", "inputs", "arr", "value", "state_in"),
    "const": ("positions", "steps", "offsets", "grid", "ramp"),
    "branch": ("branch_out", "chosen", "result", "taken", "picked"),
    "acc": ("acc", "total", "running", "accum", "agg"),
    "state": ("state", "carry", "current", "loop_state"),
    "carry": ("carry", "h_prev", "prev", "acc"),
    "final": ("final", "last", "final_state", "end_state"),
    "ys": ("ys", "history", "outputs", "per_step"),
    "trajectory": ("trajectory", "history", "path", "states"),
    "steps": ("steps", "num_iters", "iterations", "n_steps"),
    "first": ("first", "lhs", "left", "primary"),
    "second": ("second", "rhs", "right", "secondary"),
    "conv": ("conv", "conv_out", "feature_map", "filtered", "response"),
    "pooled": ("pooled", "downsampled", "summary", "global_feat"),
    "part": ("part", "chunk", "head", "tail", "piece"),
    "sol": ("sol", "solution", "solved", "coeffs"),
    "gram": ("gram", "cov", "spd", "kernel_matrix"),
    "a": ("mat", "system", "lhs_matrix"),
    "u": ("u", "left_vecs", "basis"),
    "clipped": ("clipped", "clamped", "bounded", "limited"),
    "masked": ("masked", "filled", "gated_scores"),
    "scores": ("scores", "logits", "energies", "similarity"),
    "positions": ("positions", "pos", "ramp"),
    "body_fn": ("body_fn", "loop_body", "body", "update_fn"),
    "cond_fn": ("cond_fn", "not_done", "keep_going", "should_continue"),
    "true_fn": ("true_fn", "on_true", "then_fn", "if_true"),
    "false_fn": ("false_fn", "on_false", "else_fn", "if_false"),
    "step_fn": ("step_fn", "scan_fn", "scan_body", "recurrence"),
    "per_row": ("per_row", "row_fn", "process_row", "apply_row"),
    "loss_fn": ("loss_fn", "objective_fn", "compute_loss", "loss_of"),
    "proj": ("proj", "projected", "embedded", "hidden_proj"),
    "centered": ("centered", "zero_mean", "demeaned"),
    "concat": ("concat", "stacked_features", "joined", "combined_features"),
    "flat": ("flat", "flattened", "features_flat"),
    "routed": ("routed", "dispatched", "switched"),
    "mapped": ("mapped", "per_row_out", "rows_out"),
    "held": ("held", "pinned", "fenced"),
    "piecewise": ("piecewise", "shaped", "ramped"),
    "i": ("i", "j", "step", "it"),
    "normed": ("normed", "normalized", "x_norm", "standardized"),
    "loss": ("loss", "objective", "cost", "total_loss"),
    "grads": ("grads", "gradients", "dloss"),
    "k": ("k", "keys", "key_proj"),
    "w": ("w", "kernel", "weight", "w_out", "w_in"),
    "b": ("b", "bias", "offset", "shift", "b_out"),
    "layer": ("layer", "layer_params", "lyr", "block"),
    "subkey": ("subkey", "sample_key", "noise_key", "draw_key", "rng_key"),
    "step_key": ("step_key", "iter_key", "loop_key"),
    "layer_key": ("layer_key", "init_key", "param_key"),
    "noise_key": ("noise_key", "dropout_key", "sample_rng"),
    "w_init": ("w_init", "init_w", "kernel_init", "init_weights"),
    "sf": ("spectrum", "freqs", "coeffs"),
    "upcast": ("upcast", "a_wide", "mat_full", "promoted"),
    "reshaped": ("reshaped", "expanded", "tiled", "aligned", "broadcasted", "view"),
}

# how people tell apart a second value of the same role
DECORATED = ("new_{}", "{}_out", "next_{}", "{}_next", "raw_{}", "{}_new", "{}_final", "prev_{}", "{}_proj", "{}_tmp", "{}_b", "{}_2d")

# op name (its last dotted part, or the whole) -> role
_OP_ROLES: dict[str, str] = {
    **dict.fromkeys(("relu", "gelu", "gelu_exact", "silu", "tanh", "sigmoid", "elu", "softplus", "leaky_relu", "relu6",
                     "hard_tanh", "erf", "arcsinh", "arctan"), "act"),
    **dict.fromkeys(("exp", "expm1", "exp2", "cosh", "sinh"), "exp"),
    **dict.fromkeys(("log", "log1p", "log2"), "log"),
    **dict.fromkeys(("sqrt", "rsqrt", "cbrt", "hypot"), "root"),
    **dict.fromkeys(("reciprocal",), "inv"),
    **dict.fromkeys(("sin", "cos", "tan", "arctan2"), "trig"),
    **dict.fromkeys(("square", "power"), "square"),
    **dict.fromkeys(("add", "add_scalar", "fma", "scale_shift", "add_row_vector", "outer_add"), "sum"),
    **dict.fromkeys(("subtract", "rsub_scalar", "sub_row_vector"), "diff"),
    **dict.fromkeys(("multiply", "scale", "python_scalar_argument", "mul_row_vector", "outer_mul"), "prod"),
    **dict.fromkeys(("reshape", "expand_dims", "squeeze", "broadcast_to", "tile"), "reshaped"),
    **dict.fromkeys(("divide", "div_scalar", "floor_divide", "remainder"), "ratio"),
    **dict.fromkeys(("maximum", "minimum", "clip"), "clamp"),
    **dict.fromkeys(("negative",), "neg"),
    **dict.fromkeys(("abs",), "abs"),
    **dict.fromkeys(("sign",), "sign"),
    **dict.fromkeys(("floor", "ceil", "round"), "round"),
    **dict.fromkeys(("sum", "x.sum", "prod"), "total"),
    **dict.fromkeys(("mean",), "mean"),
    **dict.fromkeys(("max", "logsumexp"), "max"),
    **dict.fromkeys(("min",), "min"),
    **dict.fromkeys(("var",), "var"),
    **dict.fromkeys(("std", "norm_axis"), "std"),
}


GENERIC = ("h", "r")  # roles that say little (a value, a reduction): the op's own role, when it has one, says more


def role_of(op_name: str, declared: str) -> str:
    """The role of an op's result: what it declares, unless that is generic (`h`, `r`) and the op
    has a role of its own (`jnp.mean` -> `mean`)."""
    if declared not in GENERIC:
        return declared
    tail = op_name.rsplit(".", 1)[-1]
    return _OP_ROLES.get(op_name, _OP_ROLES.get(tail, declared))


def pick_name(rng: random.Random, hint: str, taken: dict[str, int]) -> str:
    """A name for `hint` not in `taken` (names in use, with their counts): one of the role's names,
    drawn by seed; numbered (`hidden2`) only once every name of the role is taken."""
    names: Sequence[str] = ROLES.get(hint, (hint,))
    if hint not in ROLES or rng.random() < 0.3:
        order = list(names)  # the role's most common name first, most of the time
    else:
        order = rng.sample(list(names), len(names))
    for name in order:
        if name not in taken:
            taken[name] = 1
            return name
    decorated = () if hint.endswith(("_fn", "_row")) else DECORATED  # a function name: numbered past its role's names
    for name in (p.format(n) for n in order for p in rng.sample(decorated, len(decorated))):  # then as people vary them
        if name not in taken:
            taken[name] = 1
            return name
    base = order[0]
    taken[base] = taken.get(base, 1) + 1
    while f"{base}{taken[base]}" in taken:
        taken[base] += 1
    name = f"{base}{taken[base]}"
    taken[name] = 1
    return name


# roles whose functions are written as one numbered family, counted from 0 (a switch's branches)
FAMILIES: dict[str, tuple[str, ...]] = {"branch_fn": ("branch_{}", "case_{}", "branch{}", "f{}")}


def pick_family(rng: random.Random, hint: str, count: int, taken: dict[str, int]) -> list[str]:
    """`count` names of one family for `hint` (`branch_0, branch_1, ...`) none of which is taken:
    the first family (most common first, most of the time) whose first `count` names are free, else
    the next free numbers of one family, as a second switch in a program would go on counting."""
    families = list(FAMILIES[hint]) if rng.random() < 0.5 else rng.sample(FAMILIES[hint], len(FAMILIES[hint]))
    names = next(([f.format(i) for i in range(count)] for f in families if not any(f.format(i) in taken for i in range(count))), None)
    if names is None:
        free = (families[0].format(i) for i in range(count + len(taken)))
        names = [n for n in free if n not in taken][:count]
    taken.update(dict.fromkeys(names, 1))
    return names


# category -> what its entry points do; `ENTRY_BY_OP` refines by a block the program holds
ENTRY_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "arithmetic": ("compute", "combine", "rescale", "update_values", "mix"),
    "elementwise": ("activate", "transform", "apply_nonlinearity", "feature_map", "squash"),
    "broadcasting": ("broadcast_add", "outer_combine", "expand_and_mix", "tile_features", "align_shapes"),
    "reduction": ("summarize", "reduce_features", "pool", "compute_stats", "aggregate"),
    "matrix": ("project", "matmul_chain", "bilinear", "linear_map", "contract"),
    "conditional": ("masked_update", "select_values", "gate", "threshold", "apply_mask"),
    "composite": ("forward", "layer", "block", "apply_layer", "encode"),
    "control_flow": ("iterate", "run_loop", "unroll", "solve", "recur"),
    "indexing": ("gather_rows", "lookup", "scatter_update", "slice_window", "take_features"),
    "linalg": ("solve_system", "whiten", "decompose", "least_squares", "factorize"),
    "convolution": ("conv_forward", "apply_filters", "conv_net", "convolve", "encode_image"),
    "numerics": ("to_half", "quantize", "cast_and_scale", "mixed_precision", "bit_ops"),
    "random": ("sample", "add_noise", "init_weights", "draw_samples", "random_features"),
    "nn": ("forward", "apply_model", "model_fn", "predict", "encoder"),
    "autodiff": ("loss_and_grads", "grad_step", "compute_grads", "jacobian_fn", "hessian_vector"),
    "vmap": ("batched_apply", "per_example", "vectorized", "batched_forward", "map_rows"),
    "parallel": ("sharded_forward", "data_parallel_step", "all_reduce_mean", "shard_apply", "parallel_update"),
}
ENTRY_BY_OP: dict[str, tuple[str, ...]] = {
    "nn.sgd_step": ("train_step", "update", "sgd_update"),
    "nn.adam_step": ("train_step", "adam_update", "optimizer_step"),
    "nn.attention": ("attention_block", "self_attention", "transformer_layer"),
    "nn.cross_entropy": ("loss_fn", "compute_loss", "classification_loss"),
    "nn.regression_loss": ("loss_fn", "regression_loss", "compute_loss"),
    "nn.conv_block": ("conv_net", "cnn_forward", "conv_encoder"),
    "nn.recurrent": ("rnn_forward", "run_rnn", "sequence_encoder"),
    "nn.embedding": ("embed_tokens", "embedding_forward", "encode_tokens"),
}


def entry_name(rng: random.Random, category: str, op_names: Sequence[str], taken: Collection[str]) -> str:
    """A function name that says what the program does (from its most telling block, else its
    category) and that no name inside it shadows."""
    names = next((ENTRY_BY_OP[o] for o in reversed(op_names) if o in ENTRY_BY_OP), ENTRY_BY_CATEGORY.get(category, ("forward",)))
    free = [n for n in names if n not in taken] or [f"{n}_fn" for n in names if f"{n}_fn" not in taken] or ["entry_point"]
    return rng.choice(free)
