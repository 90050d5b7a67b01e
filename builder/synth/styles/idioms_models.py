"""Plain-JAX model pieces: a diffusion sampler step over a noise schedule (DDPM or DDIM), a
Switch / GShard-style mixture-of-experts layer with top-k routing and expert capacity, and a GCN
over edge lists with `jax.ops.segment_sum` (graph readout with a static number of graphs)."""

from __future__ import annotations

from itertools import pairwise

from ..domains import Domain
from .base import Arg, Draw, layer, spec
from .idiom_base import IMPORTS, Idiom, signature
from .linen_model import BATCH

SCHEDULES = {
    "linear": '''def make_alphas_cumprod(num_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> jax.Array:
    betas = jnp.linspace(beta_start, beta_end, num_steps, dtype=jnp.float32)
    return jnp.cumprod(1.0 - betas)
''',
    "cosine": '''def make_alphas_cumprod(num_steps: int, s: float = 0.008) -> jax.Array:
    """The cosine schedule of Nichol & Dhariwal (2021)."""
    steps = jnp.arange(num_steps + 1, dtype=jnp.float32) / num_steps
    f = jnp.cos((steps + s) / (1 + s) * jnp.pi / 2) ** 2
    return jnp.clip(f[1:] / f[0], 1e-5, 1.0)
''',
}
DDIM = '''@functools.partial(jax.jit, static_argnames=('num_steps', 'stride'))
def ddim_step({sig}) -> jax.Array:
    """One deterministic DDIM update from timestep t to t - stride, given the model's noise estimate."""
    alphas_cumprod = make_alphas_cumprod(num_steps)
    a_t = alphas_cumprod[t][:, None, None, None]
    a_prev = jnp.where(t >= stride, alphas_cumprod[jnp.maximum(t - stride, 0)], 1.0)[:, None, None, None]
    x0_pred = (x_t - jnp.sqrt(1.0 - a_t) * eps) / jnp.sqrt(a_t)
    x0_pred = jnp.clip(x0_pred, -1.0, 1.0)
    return jnp.sqrt(a_prev) * x0_pred + jnp.sqrt(1.0 - a_prev) * eps
'''
DDPM = '''@functools.partial(jax.jit, static_argnames=('num_steps',))
def ddpm_step({sig}) -> jax.Array:
    """One ancestral DDPM sampling step x_t -> x_(t-1), with fresh noise except at t = 0."""
    alphas_cumprod = make_alphas_cumprod(num_steps)
    alphas = alphas_cumprod / jnp.concatenate([jnp.ones((1,)), alphas_cumprod[:-1]])
    betas = 1.0 - alphas
    beta_t = betas[t][:, None, None, None]
    a_t = alphas_cumprod[t][:, None, None, None]
    mean = (x_t - beta_t / jnp.sqrt(1.0 - a_t) * eps) / jnp.sqrt(alphas[t])[:, None, None, None]
    noise = jax.random.normal(key, x_t.shape, x_t.dtype)
    return mean + jnp.where(t > 0, jnp.sqrt(beta_t[:, 0, 0, 0]), 0.0)[:, None, None, None] * noise
'''


def diffusion_step(d: Draw) -> Idiom:
    batch = d.pick(BATCH[:7])
    h, w, c = d.pick(((32, 32, 3), (64, 64, 3), (28, 28, 1), (128, 128, 3), (256, 256, 3), (64, 64, 4)))
    steps = d.pick((1000, 1000, 4000, 250))
    kind = d.pick(("ddim", "ddpm"))
    image = spec(d.pick(("float32", "float32", "bfloat16")), batch, h, w, c)
    args = [Arg("x_t", image), Arg("eps", image), Arg("t", spec("int32", batch), Domain("index", 0, steps))]
    if kind == "ddpm":
        args.append(Arg("key", spec("uint32", 2), Domain("prng_key")))
    extra = f"*, num_steps: int = {steps}" + (f", stride: int = {d.pick((10, 20, 50))}" if kind == "ddim" else "")
    sig = signature(args, {} if d.chance(0.5) else None, extra)
    source = (DDIM if kind == "ddim" else DDPM).format(sig=sig)
    blocks = [SCHEDULES[d.pick(tuple(SCHEDULES))], source]
    nodes = [layer(f"{kind}_step", [image, image], [image])]
    return Idiom("diffusion", blocks, f"{kind}_step", args, nodes, imports=IMPORTS | {"import functools"}, activations=(image.size,))


MOE = '''@functools.partial(jax.jit, static_argnames=('top_k', 'capacity_factor'))
def {name}({sig}) -> tuple[jax.Array, jax.Array]:
    """Routes each token to its top-k experts, keeping at most `capacity` tokens per expert (the rest
    are dropped), runs the experts on their slots and combines the outputs by gate weight."""
    num_tokens, _ = tokens.shape
    num_experts = params['router'].shape[-1]
    capacity = int(capacity_factor * num_tokens * top_k / num_experts)
    router_probs = jax.nn.softmax((tokens @ params['router']).astype(jnp.float32), axis=-1)
    gates, expert_index = jax.lax.top_k(router_probs, top_k)
    expert_mask = jax.nn.one_hot(expert_index, num_experts, dtype=jnp.int32)
    # position of each (token, choice) in its expert's queue, counted over choices first, then tokens
    flat_mask = expert_mask.transpose(1, 0, 2).reshape(top_k * num_tokens, num_experts)
    position = (jnp.cumsum(flat_mask, axis=0) - 1).reshape(top_k, num_tokens, num_experts).transpose(1, 0, 2)
    position = jnp.sum(position * expert_mask, axis=-1)
    kept = position < capacity
    dispatch = jnp.einsum('tke,tkc->tec', expert_mask * kept[..., None], jax.nn.one_hot(position, capacity, dtype=jnp.int32))
    combine = jnp.einsum('tk,tke,tkc->tec', gates * kept, expert_mask.astype(jnp.float32), jax.nn.one_hot(position, capacity))
    expert_inputs = jnp.einsum('tec,td->ecd', dispatch.astype(tokens.dtype), tokens)
    hidden = {act}(jnp.einsum('ecd,edh->ech', expert_inputs, params['w_in'], preferred_element_type=jnp.float32))
    expert_outputs = jnp.einsum('ech,ehd->ecd', hidden.astype(tokens.dtype), params['w_out'])
    outputs = jnp.einsum('tec,ecd->td', combine.astype(tokens.dtype), expert_outputs)
    density = jnp.mean(expert_mask[:, 0].astype(jnp.float32), axis=0)
    aux_loss = num_experts * jnp.sum(density * jnp.mean(router_probs, axis=0))
    return outputs, aux_loss
'''


def moe_capacity(d: Draw) -> Idiom:
    tokens_n = d.pick((64, 128, 256, 512, 1024, 2048))
    d_model, experts = d.pick((64, 128, 256, 512, 768)), d.pick((4, 8, 16, 32, 64))
    hidden, top_k = d_model * d.pick((1, 2, 4)), d.pick((1, 2))
    dtype = d.pick(("float32", "bfloat16"))
    params = {"router": spec(dtype, d_model, experts), "w_in": spec(dtype, experts, d_model, hidden), "w_out": spec(dtype, experts, hidden, d_model)}
    args = [Arg("params", params), Arg("tokens", spec(dtype, tokens_n, d_model))]
    cf = d.pick((1.0, 1.25, 2.0))
    name = d.pick(("moe_layer", "switch_ffn", "expert_layer"))
    sig = signature(args, {"params": "dict"} if d.chance(0.5) else None, f"*, top_k: int = {top_k}, capacity_factor: float = {cf}")
    source = MOE.format(name=name, sig=sig, act=d.pick(("jax.nn.gelu", "jax.nn.relu", "jax.nn.silu")))
    capacity = int(cf * tokens_n * top_k / experts)
    if capacity < 1:
        capacity = 1
    nodes = [layer("moe_capacity_dispatch", [spec(dtype, tokens_n, d_model)], [spec(dtype, experts, capacity, d_model)])]
    return Idiom("moe_routing", [source], name, args, nodes, imports=IMPORTS | {"import functools"},
                 activations=(tokens_n * experts * capacity, experts * capacity * hidden), work=tokens_n * experts * capacity * d_model * 2 + 2 * experts * capacity * hidden * d_model)  # fmt: skip


GCN = '''def gcn_layer(params: dict, node_feats: jax.Array, senders: jax.Array, receivers: jax.Array) -> jax.Array:
    """A graph convolution with symmetric degree normalization (Kipf & Welling), self-loops included."""
    num_nodes = node_feats.shape[0]
    degree = jax.ops.segment_sum(jnp.ones_like(receivers, dtype=jnp.float32), receivers, num_segments=num_nodes) + 1.0
    norm = jax.lax.rsqrt(degree)
    projected = node_feats @ params['w']
    messages = projected[senders] * norm[senders, None]
    aggregated = jax.ops.segment_sum(messages, receivers, num_segments=num_nodes) + projected * norm[:, None]
    return {act}(aggregated * norm[:, None] + params['b'])


@functools.partial(jax.jit, static_argnames=('num_graphs',))
def {name}({sig}) -> jax.Array:
    """{layers} GCN layers, then a {readout} readout per graph and a linear head."""
    for layer_params in params['layers']:
        node_feats = gcn_layer(layer_params, node_feats, senders, receivers)
    pooled = {pool}
    return pooled @ params['head']
'''
READOUTS = {
    "sum": "jax.ops.segment_sum(node_feats, node_graph, num_segments=num_graphs)",
    "mean": "jax.ops.segment_sum(node_feats, node_graph, num_segments=num_graphs) / jnp.maximum(\n        jax.ops.segment_sum(jnp.ones((node_feats.shape[0], 1)), node_graph, num_segments=num_graphs), 1.0)",
    "max": "jax.ops.segment_max(node_feats, node_graph, num_segments=num_graphs)",
}


def gcn(d: Draw) -> Idiom:
    graphs = d.pick((1, 4, 8, 16, 32, 64))
    nodes_n = graphs * d.pick((8, 16, 24, 32))
    edges_n = nodes_n * d.pick((2, 4, 6))
    f_in, hidden, out = d.pick((8, 16, 32, 64, 128)), d.pick((32, 64, 128, 256)), d.pick((1, 2, 10, 128))
    layers = d.pick((1, 2, 3, 4))
    widths = [f_in] + [hidden] * layers
    params = {"layers": [{"w": spec("float32", a, b), "b": spec("float32", b)} for a, b in pairwise(widths)], "head": spec("float32", hidden, out)}
    args = [Arg("params", params), Arg("node_feats", spec("float32", nodes_n, f_in)), Arg("senders", spec("int32", edges_n), Domain("index", 0, nodes_n)),
            Arg("receivers", spec("int32", edges_n), Domain("index", 0, nodes_n)), Arg("node_graph", spec("int32", nodes_n), Domain("index", 0, graphs))]  # fmt: skip
    readout = d.pick(tuple(READOUTS))
    pool = READOUTS[readout] + ("\n    pooled = jnp.where(jnp.isfinite(pooled), pooled, 0.0)  # graphs without nodes" if readout == "max" else "")
    name = d.pick(("gcn", "graph_classifier", "gcn_forward"))
    sig = signature(args, {"params": "dict"} if d.chance(0.5) else None, f"*, num_graphs: int = {graphs}")
    source = GCN.format(act=d.pick(("jax.nn.relu", "jax.nn.gelu")), name=name, sig=sig, layers=layers, readout=readout, pool=pool)
    nodes = [layer("gcn_layer", [spec("float32", edges_n, hidden)], [spec("float32", nodes_n, hidden)])] * layers
    return Idiom("gcn", [source], name, args, nodes, imports=IMPORTS | {"import functools"}, activations=(edges_n * hidden,))
