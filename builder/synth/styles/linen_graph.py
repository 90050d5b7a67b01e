"""A linen graph network (in the manner of flax's examples/ogbg_molpcba, without jraph): node and edge
encoders, message-passing steps that gather by `senders` / `receivers` and aggregate with
`jax.ops.segment_sum` (or mean / max), and a per-node head."""

from __future__ import annotations

from ..domains import Domain
from .base import Draw, f32, layer, spec
from .linen_layers import dense, norm
from .linen_model import Input, LinenModel

IMPORTS = {"import jax", "import jax.numpy as jnp", "import flax.linen as nn", "from typing import Sequence"}
AGGREGATE = {
    "sum": "aggregated = jax.ops.segment_sum(messages, receivers, num_segments=num_nodes)",
    "mean": "aggregated = jax.ops.segment_sum(messages, receivers, num_segments=num_nodes) / jnp.maximum(degree, 1.0)[:, None]",
    "max": "aggregated = jax.ops.segment_max(messages, receivers, num_segments=num_nodes)\n"
    "            aggregated = jnp.where(jnp.isfinite(aggregated), aggregated, 0.0)  # nodes without incoming edges",
}
DEGREE = "        degree = jax.ops.segment_sum(jnp.ones_like(receivers, dtype=jnp.float32), receivers, num_segments=num_nodes)\n"  # only the mean aggregator divides by it


SOURCE = '''class MLP(nn.Module):
    """Dense layers with {act_name} between them."""

    features: Sequence[int]

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for feat in self.features[:-1]:
            x = {act}(nn.Dense(feat)(x))
        return nn.Dense(self.features[-1])(x)


class GraphNetwork(nn.Module):
    """{steps} message-passing steps with {agg} aggregation over a graph given as edge lists."""

    latent_size: int
    num_steps: int
    output_size: int

    @nn.compact
    def __call__(self, nodes: jax.Array, edges: jax.Array, senders: jax.Array, receivers: jax.Array) -> jax.Array:
        num_nodes = nodes.shape[0]
{degree}        h = nn.Dense(self.latent_size, name='node_encoder')(nodes)
        e = nn.Dense(self.latent_size, name='edge_encoder')(edges)
        for step in range(self.num_steps):
            messages = MLP([{hidden}, self.latent_size], name=f'edge_mlp_{{step}}')(jnp.concatenate([h[senders], h[receivers], e], axis=-1))
            {aggregate}
            h = h + MLP([{hidden}, self.latent_size], name=f'node_mlp_{{step}}')(jnp.concatenate([h, aggregated], axis=-1))
            e = e + messages
{norm}
        return nn.Dense(self.output_size, name='decoder')(h)
'''


def gnn(d: Draw, batch: int) -> LinenModel | None:
    nodes = batch * d.pick((4, 8, 16, 32))
    edges = nodes * d.pick((2, 3, 4))
    f_node, f_edge = d.pick((9, 16, 32, 64, 128)), d.pick((3, 4, 8, 16))
    latent, steps = d.pick((32, 64, 128, 256)), d.pick((1, 2, 3, 4))
    hidden, out = d.pick((64, 128, 256, 512)), d.pick((2, 10, 40, 128))
    agg, act = d.pick(tuple(AGGREGATE)), d.pick(("nn.relu", "nn.gelu", "nn.silu"))
    use_norm = d.chance(0.5)
    source = SOURCE.format(act=act, act_name=act.split(".")[-1], steps=steps, agg=agg, hidden=hidden, aggregate=AGGREGATE[agg], degree=DEGREE if agg == "mean" else "",
                           norm="        h = nn.LayerNorm(name='node_norm')(h)" if use_norm else "")  # fmt: skip
    params = {"node_encoder": dense(f_node, latent), "edge_encoder": dense(f_edge, latent), "decoder": dense(latent, out)}
    for step in range(steps):
        params[f"edge_mlp_{step}"] = {"Dense_0": dense(3 * latent, hidden), "Dense_1": dense(hidden, latent)}
        params[f"node_mlp_{step}"] = {"Dense_0": dense(2 * latent, hidden), "Dense_1": dense(hidden, latent)}
    if use_norm:
        params["node_norm"] = norm(latent)
    inputs = [
        Input("nodes", f32(nodes, f_node)), Input("edges", f32(edges, f_edge)),
        Input("senders", spec("int32", edges), Domain("index", 0, nodes)), Input("receivers", spec("int32", edges), Domain("index", 0, nodes)),
    ]  # fmt: skip
    layers = [layer("segment_sum_step", [f32(edges, 3 * latent)], [f32(nodes, latent)])] * steps
    return LinenModel("gnn", source, f"GraphNetwork(latent_size={latent}, num_steps={steps}, output_size={out})", params, inputs, "classify", out, layers,
                      imports=set(IMPORTS), activations=(edges * max(hidden, 3 * latent),))  # fmt: skip
