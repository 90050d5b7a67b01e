"""Linen families over feature vectors: MLP, VAE (reparameterization trick), mixture of experts (top-k routing)."""

from __future__ import annotations

from ..domains import Domain
from .base import Draw, f32, layer, spec
from .linen_layers import dense, norm
from .linen_model import ACTIVATIONS, HIDDEN, INITS, PRNG_KEY, SEQ, Input, LinenModel, choose_dtypes, dtype_fields, dtype_kwargs, join_kwargs

IMPORTS = {"import jax", "import jax.numpy as jnp", "import flax.linen as nn"}


def mlp(d: Draw, batch: int) -> LinenModel | None:
    depth = d.pick((1, 2, 2, 3, 3, 4, 6))
    d_in = d.pick((16, 32, 64, 128, 256, 512, 784, 1024))
    widths = [d.pick(HIDDEN[:7]) for _ in range(depth)]
    if d.chance(0.5):
        widths = [widths[0]] * depth  # one width throughout, as most MLPs are written
    head = d.weighted({"classify": 3, "regress": 1})
    out = d.pick((2, 10, 100, 1000)) if head == "classify" else d.pick((1, 3, 8, 32))
    act, init = d.pick(ACTIVATIONS), d.pick(INITS)
    use_norm, dropout = d.chance(0.4), d.weighted({0.0: 2, 0.1: 2, 0.2: 1, 0.5: 1})
    param_dtype, dtype = choose_dtypes(d)
    cls = d.pick(("MLP", "MLPClassifier", "FeedForward", "DenseNet")) if head == "classify" else d.pick(("MLP", "Regressor", "MLPRegressor"))
    kw = dtype_kwargs(param_dtype, dtype)
    fields = ["features: Sequence[int]"] + ([f"dropout_rate: float = {dropout}"] if dropout else []) + dtype_fields(param_dtype, dtype).splitlines()
    body = [f"x = nn.Dense(feat, {join_kwargs(f'kernel_init={init}', kw)})(x)"]
    if use_norm:
        body.append(f"x = nn.LayerNorm({kw})(x)")
    body.append(f"x = {act}(x)")
    if dropout:
        body.append("x = nn.Dropout(rate=self.dropout_rate, deterministic=not train)(x)")
    sig = "self, x: jax.Array, train: bool = False" if dropout else "self, x: jax.Array"
    loop = "\n".join("            " + line for line in body)
    source = f'''class {cls}(nn.Module):
    """A {len(widths) + 1}-layer perceptron with {act.split('.')[-1]} activations{' and layer norm' if use_norm else ''}."""

{chr(10).join('    ' + f for f in fields)}

    @nn.compact
    def __call__({sig}) -> jax.Array:
        for feat in self.features[:-1]:
{loop}
        return nn.Dense(self.features[-1], {join_kwargs(f'kernel_init={init}', kw)})(x)
'''
    features = (*widths, out)
    params, nodes, prev = {}, [], d_in
    for i, w in enumerate(features):
        params[f"Dense_{i}"] = dense(prev, w, param_dtype)
        nodes.append(layer("nn.Dense", [spec(dtype, batch, prev)], [spec(dtype, batch, w)]))
        if use_norm and i < depth:
            params[f"LayerNorm_{i}"] = norm(w, param_dtype)
            nodes.append(layer("nn.LayerNorm", [spec(dtype, batch, w)], [spec(dtype, batch, w)]))
        prev = w
    x = Input(d.pick(("x", "inputs", "features")), f32(batch, d_in))
    return LinenModel(
        "mlp", source, f"{cls}(features={features!r})", params, [x], head, out, nodes,
        imports=IMPORTS | {"from typing import Sequence"}, train_arg=bool(dropout), dropout=bool(dropout),
        activations=(batch * max(features),),
    )  # fmt: skip


def vae(d: Draw, batch: int) -> LinenModel | None:
    """flax's examples/vae: an encoder to (mean, logvar), `reparameterize`, a decoder to logits."""
    features = d.pick((784, 1024, 3072, 256, 512))
    hidden = d.pick((128, 256, 400, 500, 512, 1024))
    latents = d.pick((2, 8, 16, 20, 32, 64, 128))
    act = d.pick(("nn.relu", "nn.gelu", "nn.elu", "nn.leaky_relu"))
    param_dtype, dtype = choose_dtypes(d)
    kw = dtype_kwargs(param_dtype, dtype)
    fields = dtype_fields(param_dtype, dtype)
    pass_dtype = join_kwargs("dtype=self.dtype" if dtype != "float32" else "", "param_dtype=self.param_dtype" if param_dtype != "float32" else "")
    more = ("\n" + "\n".join("    " + f for f in fields.splitlines())) if fields else ""
    source = f'''class Encoder(nn.Module):
    """Maps inputs to the mean and log-variance of q(z | x)."""

    latents: int
    hidden: int{more}

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = nn.Dense(self.hidden, {join_kwargs("name='fc1'", kw)})(x)
        x = {act}(x)
        mean_x = nn.Dense(self.latents, {join_kwargs("name='fc2_mean'", kw)})(x)
        logvar_x = nn.Dense(self.latents, {join_kwargs("name='fc2_logvar'", kw)})(x)
        return mean_x, logvar_x


class Decoder(nn.Module):
    """Maps a latent sample to the logits of p(x | z)."""

    features: int
    hidden: int{more}

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        z = nn.Dense(self.hidden, {join_kwargs("name='fc1'", kw)})(z)
        z = {act}(z)
        z = nn.Dense(self.features, {join_kwargs("name='fc2'", kw)})(z)
        return z


def reparameterize(rng: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    std = jnp.exp(0.5 * logvar)
    eps = jax.random.normal(rng, logvar.shape, logvar.dtype)
    return mean + eps * std


class VAE(nn.Module):
    """A variational autoencoder; the latent sample is drawn with the caller's key."""

    latents: int
    hidden: int
    features: int{more}

    def setup(self):
        self.encoder = Encoder(self.latents, self.hidden{', ' + pass_dtype if pass_dtype else ''})
        self.decoder = Decoder(self.features, self.hidden{', ' + pass_dtype if pass_dtype else ''})

    def __call__(self, x: jax.Array, z_rng: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        mean, logvar = self.encoder(x)
        z = reparameterize(z_rng, mean, logvar)
        recon_x = self.decoder(z)
        return recon_x, mean, logvar
'''
    params = {
        "encoder": {"fc1": dense(features, hidden, param_dtype), "fc2_mean": dense(hidden, latents, param_dtype), "fc2_logvar": dense(hidden, latents, param_dtype)},
        "decoder": {"fc1": dense(latents, hidden, param_dtype), "fc2": dense(hidden, features, param_dtype)},
    }
    nodes = [layer("Encoder", [f32(batch, features)], [spec(dtype, batch, latents)] * 2), layer("reparameterize", [spec(dtype, batch, latents)], [spec(dtype, batch, latents)]),
             layer("Decoder", [spec(dtype, batch, latents)], [spec(dtype, batch, features)])]  # fmt: skip
    inputs = [Input(d.pick(("x", "batch", "images")), f32(batch, features), Domain("real", 0, 1)), Input("z_rng", PRNG_KEY, Domain("prng_key"))]
    return LinenModel("vae", source, f"VAE(latents={latents}, hidden={hidden}, features={features})", params, inputs, "vae", features, nodes,
                      imports=set(IMPORTS), activations=(batch * max(features, hidden),))  # fmt: skip


def moe(d: Draw, batch: int) -> LinenModel | None:
    """A mixture-of-experts feed-forward block: a router, top-k gates, experts as stacked weights (einsum dispatch)."""
    experts, top_k = d.pick((4, 8, 8, 16, 32)), d.pick((1, 2, 2))
    d_model, seq = d.pick(HIDDEN[:6]), d.pick(SEQ[:6])
    hidden = d_model * d.pick((2, 4)) // (2 if experts >= 16 else 1)
    act = d.pick(("nn.gelu", "nn.silu", "nn.relu"))
    glu = d.chance(0.4)
    init = d.pick(INITS)
    param_dtype, dtype = choose_dtypes(d)
    fields = dtype_fields(param_dtype, dtype)
    pd = "self.param_dtype" if param_dtype != "float32" else "jnp.float32"
    kw = dtype_kwargs(param_dtype, dtype)
    cast = "x = x.astype(self.dtype)\n        " if dtype != "float32" else ""
    more = ("\n" + "\n".join("    " + f for f in fields.splitlines())) if fields else ""
    gate = f"""
        w_gate = self.param('w_gate', {init}, (self.num_experts, d_model, self.hidden_dim), {pd})
        h = {act}(jnp.einsum('bsd,edh->bseh', x, w_gate)) * jnp.einsum('bsd,edh->bseh', x, w_in)""" if glu else f"""
        h = {act}(jnp.einsum('bsd,edh->bseh', x, w_in))"""
    source = f'''class MoEBlock(nn.Module):
    """A mixture-of-experts MLP: each token goes to its top-{top_k} experts, weighted by the router's softmax."""

    num_experts: int
    top_k: int
    hidden_dim: int{more}

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        {cast}d_model = x.shape[-1]
        router_logits = nn.Dense(self.num_experts, {join_kwargs("use_bias=False", "name='router'", kw)})(x)
        router_probs = jax.nn.softmax(router_logits.astype(jnp.float32), axis=-1)
        gates, expert_index = jax.lax.top_k(router_probs, self.top_k)
        gates = gates / jnp.sum(gates, axis=-1, keepdims=True)
        combine = jnp.einsum('bsk,bske->bse', gates, jax.nn.one_hot(expert_index, self.num_experts))
        # load-balancing loss (Switch Transformer): fraction of tokens routed x mean router probability
        tokens_per_expert = jnp.mean(jax.nn.one_hot(expert_index[..., 0], self.num_experts), axis=(0, 1))
        aux_loss = self.num_experts * jnp.sum(tokens_per_expert * jnp.mean(router_probs, axis=(0, 1)))
        w_in = self.param('w_in', {init}, (self.num_experts, d_model, self.hidden_dim), {pd})
        w_out = self.param('w_out', {init}, (self.num_experts, self.hidden_dim, d_model), {pd}){gate}
        y = jnp.einsum('bseh,ehd->bsed', h, w_out)
        y = jnp.einsum('bsed,bse->bsd', y, combine.astype(y.dtype))
        return y, aux_loss
'''
    params = {"router": dense(d_model, experts, param_dtype, bias=False), "w_in": spec(param_dtype, experts, d_model, hidden), "w_out": spec(param_dtype, experts, hidden, d_model)}
    if glu:
        params["w_gate"] = spec(param_dtype, experts, d_model, hidden)
    x = f32(batch, seq, d_model)
    nodes = [layer("router_top_k", [x], [spec("float32", batch, seq, top_k)]), layer("experts_einsum", [x], [spec(dtype, batch, seq, experts, d_model)])]
    return LinenModel("moe", source, f"MoEBlock(num_experts={experts}, top_k={top_k}, hidden_dim={hidden})", params, [Input("x", x)], "moe", d_model, nodes,
                      imports=set(IMPORTS), activations=(batch * seq * experts * max(hidden, d_model),),
                      work=batch * seq * experts * hidden * d_model * (3 if glu else 2))  # fmt: skip
