"""Plain-JAX transformer code as maxtext-style repositories write it: an attention block with RoPE and
grouped-query heads (static head counts under `functools.partial(jax.jit, static_argnames=...)`), a
KV-cache decode step that scans over stacked layer weights, and a residual stack under `lax.scan`
with `jax.checkpoint`."""

from __future__ import annotations

from ..domains import Domain
from .base import Arg, Draw, differentiated, layer, spec
from .idiom_base import IMPORTS, LAYER_NORM, RMS_NORM, ROPE, Idiom, signature
from .linen_model import BATCH, SEQ, VOCAB

HEAD_DIMS = (32, 64, 64, 128)

ATTENTION = '''@functools.partial(jax.jit, static_argnames=({statics}))
def {name}({sig}) -> jax.Array:
    """A pre-norm {kind} attention block with rotary embeddings and a residual connection."""
    batch, seq_len, _ = x.shape
    normed = rms_norm(x, params['norm_scale'])
    q = jnp.einsum('bsd,dhk->bshk', normed, params['wq'])
    k = jnp.einsum('bsd,dhk->bshk', normed, params['wk'])
    v = jnp.einsum('bsd,dhk->bshk', normed, params['wv'])
    positions = jnp.arange(seq_len)
    q, k = apply_rope(q, positions), apply_rope(k, positions)
{attend}
    return x + jnp.einsum('bshk,hkd->bsd', out, params['wo'])
'''
EINSUM_ATTEND = '''    head_dim = q.shape[-1]
    q = q.reshape(batch, seq_len, num_kv_heads, num_heads // num_kv_heads, head_dim)
    scores = jnp.einsum('bqkgd,bskd->bkgqs', q, k, preferred_element_type=jnp.float32) * head_dim ** -0.5
{mask}    probs = jax.nn.softmax(scores, axis=-1).astype(v.dtype)
    out = jnp.einsum('bkgqs,bskd->bqkgd', probs, v).reshape(batch, seq_len, num_heads, head_dim)'''
CAUSAL = '''    if causal:
        causal_mask = jnp.tril(jnp.ones((seq_len, seq_len), dtype=jnp.bool_))
        scores = jnp.where(causal_mask, scores, jnp.finfo(scores.dtype).min)
'''
PADDING = '''    scores = jnp.where(padding_mask[:, None, None, None, :], scores, jnp.finfo(scores.dtype).min)
'''
DPA_ATTEND = '''    out = jax.nn.dot_product_attention(q, k, v, is_causal=causal)'''


def attention_block(d: Draw) -> Idiom:
    batch, seq = d.pick(BATCH[:7]), d.pick(SEQ[:7])
    head_dim, kv = d.pick(HEAD_DIMS), d.pick((1, 2, 4, 8))
    heads = kv * d.pick((1, 2, 4))
    d_model = d.pick((256, 512, 768, 1024, 2048, 4096))
    dtype = d.pick(("float32", "bfloat16", "bfloat16"))
    use_dpa, padded = d.chance(0.3), d.chance(0.3)
    causal = d.chance(0.7)
    mask = (CAUSAL if causal else "") + (PADDING if padded and not use_dpa else "")
    attend = DPA_ATTEND if use_dpa else EINSUM_ATTEND.format(mask=mask)
    params = {"norm_scale": spec(dtype, d_model), "wq": spec(dtype, d_model, heads, head_dim), "wk": spec(dtype, d_model, kv, head_dim),
              "wv": spec(dtype, d_model, kv, head_dim), "wo": spec(dtype, heads, head_dim, d_model)}  # fmt: skip
    args = [Arg("params", params), Arg("x", spec(dtype, batch, seq, d_model))]
    if padded and not use_dpa:
        args.append(Arg("padding_mask", spec("bool", batch, seq)))
    name = d.pick(("attention_block", "self_attention", "attention_layer"))
    statics = "'num_heads', 'num_kv_heads', 'causal'" if not use_dpa else "'causal'"
    extra = f"*, num_heads: int = {heads}, num_kv_heads: int = {kv}, causal: bool = {causal}" if not use_dpa else f"*, causal: bool = {causal}"
    annotated = {"params": "dict[str, jax.Array]"} if d.chance(0.6) else None
    kind = "grouped-query" if kv < heads else "multi-head"
    source = ATTENTION.format(statics=statics, name=name, sig=signature(args, annotated, extra), kind=("causal " if causal else "") + kind, attend=attend)
    blocks = [RMS_NORM.format(eps=d.pick((1e-6, 1e-5))), ROPE.format(theta=d.pick((10000.0, 500000.0, 1000000.0))), source]
    nodes = [layer("attention[einsum]" if not use_dpa else "attention[dpa]", [spec(dtype, batch, seq, d_model)], [spec(dtype, batch, seq, d_model)])]
    work = batch * seq * d_model * (2 * heads + 2 * kv) * head_dim + 2 * batch * heads * seq * seq * head_dim
    return Idiom("attention", blocks, name, args, nodes, imports=IMPORTS | {"import functools"}, activations=(batch * heads * seq * seq,), work=work)


DECODE = '''@functools.partial(jax.jit, donate_argnames=('cache',))
def {name}({sig}) -> tuple[jax.Array, dict]:
    """One autoregressive step: embed the new tokens, write each layer's key and value into the cache at
    `pos`, attend over the filled prefix, and return next-token logits with the updated cache."""
    batch = tokens.shape[0]
    x = jnp.take(params['embed'], tokens, axis=0)
    max_len = cache['k'].shape[2]
    valid = jnp.arange(max_len) <= pos

    def layer(x, inputs):
        layer_params, k_cache, v_cache = inputs
        normed = rms_norm(x, layer_params['attn_norm'])
        q = apply_rope(jnp.einsum('bd,dhk->bhk', normed, layer_params['wq']), pos)
        k = apply_rope(jnp.einsum('bd,dhk->bhk', normed, layer_params['wk']), pos)
        v = jnp.einsum('bd,dhk->bhk', normed, layer_params['wv'])
        k_cache = {update_k}
        v_cache = {update_v}
        num_kv_heads, head_dim = k.shape[1], k.shape[2]
        q = q.reshape(batch, num_kv_heads, -1, head_dim)
        scores = jnp.einsum('bkgd,bskd->bkgs', q, k_cache, preferred_element_type=jnp.float32) * head_dim ** -0.5
        scores = jnp.where(valid, scores, -1e30)
        probs = jax.nn.softmax(scores, axis=-1).astype(v_cache.dtype)
        attn = jnp.einsum('bkgs,bskd->bkgd', probs, v_cache).reshape(batch, -1)
        x = x + attn @ layer_params['wo']
        normed = rms_norm(x, layer_params['mlp_norm'])
        x = x + ({act}(normed @ layer_params['w_gate']) * (normed @ layer_params['w_up'])) @ layer_params['w_down']
        return x, (k_cache, v_cache)

    x, (k_cache, v_cache) = jax.lax.scan(layer, x, (params['layers'], cache['k'], cache['v']))
    logits = {logits}
    return logits, {{'k': k_cache, 'v': v_cache}}
'''
UPDATES = {
    "dus": "jax.lax.dynamic_update_slice_in_dim({c}, {n}[:, None].astype({c}.dtype), pos, axis=1)",
    "at": "{c}.at[:, pos].set({n}.astype({c}.dtype))",
}


def kv_cache_decode(d: Draw) -> Idiom:
    batch, max_len = d.pick(BATCH[:6]), d.pick(SEQ[:8])
    head_dim, kv = d.pick(HEAD_DIMS), d.pick((1, 2, 4, 8))
    heads = kv * d.pick((1, 2, 4))
    d_model, layers = d.pick((128, 256, 256, 512)), d.pick((1, 2, 2, 4))
    vocab, mlp = d.pick(VOCAB[:4]), d_model * d.pick((2, 3, 4))
    dtype = d.pick(("bfloat16", "bfloat16", "float32"))
    tied = d.chance(0.5)
    per_layer = {"attn_norm": spec(dtype, layers, d_model), "mlp_norm": spec(dtype, layers, d_model), "wq": spec(dtype, layers, d_model, heads, head_dim),
                 "wk": spec(dtype, layers, d_model, kv, head_dim), "wv": spec(dtype, layers, d_model, kv, head_dim), "wo": spec(dtype, layers, heads * head_dim, d_model),
                 "w_gate": spec(dtype, layers, d_model, mlp), "w_up": spec(dtype, layers, d_model, mlp), "w_down": spec(dtype, layers, mlp, d_model)}  # fmt: skip
    params = {"embed": spec(dtype, vocab, d_model), "final_norm": spec(dtype, d_model), "layers": per_layer}
    if not tied:
        params["lm_head"] = spec(dtype, d_model, vocab)
    cache_spec = spec(dtype, layers, batch, max_len, kv, head_dim)
    args = [Arg("params", params), Arg("cache", {"k": cache_spec, "v": cache_spec}), Arg("tokens", spec("int32", batch), Domain("index", 0, vocab)),
            Arg("pos", spec("int32"), Domain("int", 0, max_len - 1))]  # fmt: skip
    how = d.pick(tuple(UPDATES))
    logits = ("jnp.einsum('bd,vd->bv', rms_norm(x, params['final_norm']), params['embed'], preferred_element_type=jnp.float32)" if tied
              else "jnp.dot(rms_norm(x, params['final_norm']), params['lm_head'], preferred_element_type=jnp.float32)")  # fmt: skip
    name = d.pick(("decode_step", "generate_step", "decode"))
    annotated = {"params": "dict", "cache": "dict"} if d.chance(0.6) else None
    source = DECODE.format(name=name, sig=signature(args, annotated), update_k=UPDATES[how].format(c="k_cache", n="k"), update_v=UPDATES[how].format(c="v_cache", n="v"),
                           act=d.pick(("jax.nn.silu", "jax.nn.gelu")), logits=logits)  # fmt: skip
    blocks = [RMS_NORM.format(eps=1e-6), ROPE.format(theta=d.pick((10000.0, 500000.0))), source]
    nodes = [layer("kv_cache_layer", [cache_spec], [cache_spec])] * layers + [layer("logits", [spec(dtype, batch, d_model)], [spec("float32", batch, vocab)])]
    return Idiom("kv_cache", blocks, name, args, nodes, imports=IMPORTS | {"import functools"}, activations=(layers * batch * max_len * heads,), loops=[layers])


SCAN_STACK = '''def {block}(x: jax.Array, layer_params: dict) -> jax.Array:
    normed = layer_norm(x, layer_params['ln_scale'], layer_params['ln_bias'])
    hidden = {act}(normed @ layer_params['w1'] + layer_params['b1'])
    return x + hidden @ layer_params['w2'] + layer_params['b2']


{decorator}def {name}({sig}):
    """{doc}"""
{remat}
    def body(carry, layer_params):
        return {call}(carry, layer_params), None

    features, _ = jax.lax.scan(body, x, params['blocks']{unroll})
    {tail}
'''
REMAT = {
    "": ("", "{block}"),
    "plain": ("    block_fn = jax.checkpoint({block})\n", "block_fn"),
    "policy": ("    block_fn = jax.checkpoint({block}, policy=jax.checkpoint_policies.{policy})\n", "block_fn"),
}


def scan_stack(d: Draw) -> Idiom:
    batch, d_model = d.pick(BATCH), d.pick((64, 128, 256, 512, 768, 1024))
    layers, hidden = d.pick((2, 4, 8, 12, 24)), d_model * d.pick((2, 4))
    seq = d.pick((None, None, 16, 64, 128))
    act = d.pick(("jax.nn.gelu", "jax.nn.relu", "jax.nn.silu"))
    remat = d.pick(tuple(REMAT))
    policy = d.pick(("dots_with_no_batch_dims_saveable", "nothing_saveable", "checkpoint_dots"))
    block = d.pick(("residual_block", "mlp_block", "block"))
    x_shape = (batch, d_model) if seq is None else (batch, seq, d_model)
    blocks_params = {"ln_scale": spec("float32", layers, d_model), "ln_bias": spec("float32", layers, d_model), "w1": spec("float32", layers, d_model, hidden),
                     "b1": spec("float32", layers, hidden), "w2": spec("float32", layers, hidden, d_model), "b2": spec("float32", layers, d_model)}  # fmt: skip
    out = d.pick((1, 10, 100))
    params = {"blocks": blocks_params, "head": spec("float32", d_model, out)}
    kind = d.weighted({"forward": 2, "loss": 1, "sgd": 2})
    args = [Arg("params", params), Arg("x", spec("float32", *x_shape))]
    pooled = "features" if seq is None else "jnp.mean(features, axis=1)"
    if kind == "forward":
        tail, doc, name = f"return {pooled} @ params['head']", f"{layers} residual MLP blocks scanned over weights stacked on a leading layer axis.", "forward"
    else:
        args.append(Arg("labels", spec("int32", batch), Domain("index", 0, out)) if out > 1 else Arg("targets", spec("float32", batch, 1)))
        loss = ("-jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=-1))" if out > 1
                else "jnp.mean((logits - targets) ** 2)")  # fmt: skip
        tail = f"logits = {pooled} @ params['head']\n    return {loss}"
        doc, name = "The loss of a scanned residual stack.", "loss_fn"
    remat_line, call = REMAT[remat]
    unroll = d.pick(("", "", ", unroll=2")) if layers % 2 == 0 else ""
    trips = layers // 2 if unroll else layers  # unrolled by 2, the while runs half the steps, two per body
    source = SCAN_STACK.format(block=block, act=act, decorator="@jax.jit\n" if kind == "forward" and d.chance(0.6) else "", name=name, sig=signature(args, None),
                               doc=doc, remat=remat_line.format(block=block, policy=policy), call=call.format(block=block),
                               unroll=unroll, tail=tail)  # fmt: skip
    blocks = [LAYER_NORM, source]
    if kind == "sgd":
        lr = d.pick((1e-3, 1e-2, 0.1))
        blocks.append(f'''@jax.jit
def train_step(params: dict, x: jax.Array, {args[-1].name}: jax.Array) -> tuple[dict, jax.Array]:
    loss, grads = jax.value_and_grad(loss_fn)(params, x, {args[-1].name})
    params = jax.tree.map(lambda p, g: p - {lr} * g, params, grads)
    return params, loss
''')
        name = "train_step"
    nodes = [layer(f"scan_block[{remat}]", [spec("float32", *x_shape)], [spec("float32", *x_shape)])] * layers
    return Idiom("scan_stack", blocks, name, args, nodes, activations=(batch * (seq or 1) * hidden * layers,), work=2 * batch * (seq or 1) * hidden * d_model * layers,
                 loops=differentiated([trips]) if kind == "sgd" else [trips])  # fmt: skip
