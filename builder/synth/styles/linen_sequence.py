"""Linen families over token sequences: a transformer encoder classifier (nn.MultiHeadDotProductAttention,
optionally `nn.scan` / `nn.remat` over layers), a causal decoder LM (RoPE, grouped-query attention,
RMSNorm, SwiGLU) and an LSTM / GRU classifier (`nn.RNN`)."""

from __future__ import annotations

from ..domains import Domain
from .base import Draw, f32, layer, spec
from .linen_layers import attention, dense, dense_general, embed, gru, lstm, norm, stacked
from .linen_model import INITS, SEQ, VOCAB, Input, LinenModel

IMPORTS = {"import jax", "import jax.numpy as jnp", "import flax.linen as nn"}
HEAD_DIMS = (32, 64, 64, 128)

ENCODER_SOURCE = '''class EncoderBlock(nn.Module):
    """A {prenorm}-LN transformer encoder block."""

    num_heads: int
    mlp_dim: int
    dropout_rate: float = {dropout}
    deterministic: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array){ret}:
{body}


class TransformerClassifier(nn.Module):
    """Token embeddings with learned positions, {layers} encoder blocks, {pool} pooling and a linear head."""

    vocab_size: int
    num_layers: int
    num_heads: int
    emb_dim: int
    mlp_dim: int
    num_classes: int
    max_len: int = {max_len}

    @nn.compact
    def __call__(self, tokens: jax.Array, train: bool = False) -> jax.Array:
        mask = nn.make_attention_mask(tokens > 0, tokens > 0)
        x = nn.Embed(self.vocab_size, self.emb_dim, embedding_init={init}, name='embed')(tokens)
        pos_embedding = self.param('pos_embedding', nn.initializers.normal(stddev=0.02), (1, self.max_len, self.emb_dim))
        x = x + pos_embedding[:, : tokens.shape[1]]
        x = nn.Dropout(rate={dropout})(x, deterministic=not train)
{stack}
        x = nn.LayerNorm(name='encoder_norm')(x)
{pool_code}
        return nn.Dense(self.num_classes, name='head')(x)
'''
PRE = """        y = nn.LayerNorm()(x)
        y = nn.MultiHeadDotProductAttention(num_heads=self.num_heads, dropout_rate=self.dropout_rate, deterministic=self.deterministic)(y, mask=mask)
        x = x + nn.Dropout(rate=self.dropout_rate)(y, deterministic=self.deterministic)
        y = nn.LayerNorm()(x)
        y = nn.Dense(self.mlp_dim)(y)
        y = {act}(y)
        y = nn.Dense(x.shape[-1])(y)
        x = x + nn.Dropout(rate=self.dropout_rate)(y, deterministic=self.deterministic)"""
POST = """        y = nn.MultiHeadDotProductAttention(num_heads=self.num_heads, dropout_rate=self.dropout_rate, deterministic=self.deterministic)(x, mask=mask)
        x = nn.LayerNorm()(x + nn.Dropout(rate=self.dropout_rate)(y, deterministic=self.deterministic))
        y = nn.Dense(self.mlp_dim)(x)
        y = {act}(y)
        y = nn.Dense(x.shape[-1])(y)
        x = nn.LayerNorm()(x + nn.Dropout(rate=self.dropout_rate)(y, deterministic=self.deterministic))"""
LOOP = """        for i in range(self.num_layers):
            x = {block}(self.num_heads, self.mlp_dim, deterministic=not train, name=f'encoderblock_{{i}}')(x, mask)"""
SCAN = """        layers = nn.scan({block}, variable_axes={{'params': 0}}, split_rngs={{'params': True, 'dropout': True}}, in_axes=nn.broadcast, length=self.num_layers)
        x, _ = layers(self.num_heads, self.mlp_dim, deterministic=not train, name='layers')(x, mask)"""
POOLS = {"mean": "        x = jnp.mean(x, axis=1)", "cls": "        x = x[:, 0]  # the first token's state", "max": "        x = jnp.max(x, axis=1)"}


def encoder(d: Draw, batch: int) -> LinenModel | None:
    vocab, seq = d.pick(VOCAB[:5]), d.pick(SEQ[:6])
    head_dim = d.pick(HEAD_DIMS)
    heads = d.pick((2, 4, 8, 12))
    emb = heads * head_dim
    if emb > 1024:
        return None
    layers, mlp = d.pick((1, 2, 4, 6)), emb * d.pick((2, 4))
    classes = d.pick((2, 3, 5, 10))
    prenorm, pool, stack = d.chance(0.7), d.pick(tuple(POOLS)), d.weighted({"loop": 3, "scan": 2, "remat_scan": 1})
    act, init, dropout = d.pick(("nn.gelu", "nn.relu")), d.pick(INITS[3:]), d.pick((0.0, 0.1, 0.1, 0.2))
    max_len = max(seq, d.pick((512, 1024, 2048)))
    block = "nn.remat(EncoderBlock)" if stack == "remat_scan" else "EncoderBlock"
    scanned = stack != "loop"
    body = (PRE if prenorm else POST).format(act=act) + ("\n        return x, None" if scanned else "\n        return x")
    source = ENCODER_SOURCE.format(prenorm="pre" if prenorm else "post", dropout=dropout, ret=" -> tuple[jax.Array, None]" if scanned else " -> jax.Array",
                                   body=body, layers=layers, pool=pool, max_len=max_len, init=init, pool_code=POOLS[pool],
                                   stack=(SCAN if scanned else LOOP).format(block=block))  # fmt: skip
    one = {"LayerNorm_0": norm(emb), "MultiHeadDotProductAttention_0": attention(emb, heads, emb, emb), "Dense_0": dense(emb, mlp), "Dense_1": dense(mlp, emb), "LayerNorm_1": norm(emb)}
    params = {"embed": embed(vocab, emb), "pos_embedding": f32(1, max_len, emb), "encoder_norm": norm(emb), "head": dense(emb, classes)}
    if scanned:
        params["layers"] = stacked(one, layers)
    else:
        params.update({f"encoderblock_{i}": one for i in range(layers)})
    tokens = Input(d.pick(("tokens", "input_ids", "inputs")), spec("int32", batch, seq), Domain("index", 0, vocab))
    nodes = [layer("nn.Embed", [tokens.spec], [f32(batch, seq, emb)])] + [layer("EncoderBlock", [f32(batch, seq, emb)], [f32(batch, seq, emb)])] * layers
    construct = f"TransformerClassifier(vocab_size={vocab}, num_layers={layers}, num_heads={heads}, emb_dim={emb}, mlp_dim={mlp}, num_classes={classes})"
    return LinenModel("encoder", source, construct, params, [tokens], "classify", classes, nodes, imports=set(IMPORTS), train_arg=True, dropout=dropout > 0,
                      activations=(batch * heads * seq * seq, batch * seq * mlp), work=2 * layers * batch * seq * seq * emb,
                      loops=(layers,) if scanned else ())  # fmt: skip


DECODER_SOURCE = '''def apply_rope(x: jax.Array, positions: jax.Array, max_wavelength: float = {theta}) -> jax.Array:
    """Rotary position embeddings over the last axis of x [batch, seq, heads, head_dim]."""
    half = x.shape[-1] // 2
    freq = 1.0 / (max_wavelength ** (jnp.arange(half, dtype=jnp.float32) / half))
    angles = positions[..., None].astype(jnp.float32) * freq
    sin, cos = jnp.sin(angles)[:, :, None, :], jnp.cos(angles)[:, :, None, :]
    x1, x2 = jnp.split(x.astype(jnp.float32), 2, axis=-1)
    return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1).astype(x.dtype)


class Attention(nn.Module):
    """Causal self-attention with {kind}."""

    num_heads: int
    num_kv_heads: int
    head_dim: int
    dtype: jnp.dtype = jnp.{dtype}

    @nn.compact
    def __call__(self, x: jax.Array, positions: jax.Array, mask: jax.Array) -> jax.Array:
        dense = functools.partial(nn.DenseGeneral, use_bias=False, dtype=self.dtype)
        q = dense((self.num_heads, self.head_dim), name='q_proj')(x)
        k = dense((self.num_kv_heads, self.head_dim), name='k_proj')(x)
        v = dense((self.num_kv_heads, self.head_dim), name='v_proj')(x)
        q, k = apply_rope(q, positions), apply_rope(k, positions)
{attend}
        return dense(x.shape[-1], axis=(-2, -1), name='o_proj')(out)


class DecoderLayer(nn.Module):
    """Pre-norm decoder layer: RMSNorm, attention, RMSNorm, {mlp_name} MLP."""

    num_heads: int
    num_kv_heads: int
    head_dim: int
    mlp_dim: int
    dtype: jnp.dtype = jnp.{dtype}

    @nn.compact
    def __call__(self, x: jax.Array, positions: jax.Array, mask: jax.Array){ret}:
        h = nn.RMSNorm(epsilon={eps}, dtype=self.dtype, name='input_norm')(x)
        x = x + Attention(self.num_heads, self.num_kv_heads, self.head_dim, self.dtype, name='attn')(h, positions, mask)
        h = nn.RMSNorm(epsilon={eps}, dtype=self.dtype, name='post_attn_norm')(x)
{mlp}
        return {returns}


class {cls}(nn.Module):
    """A decoder-only language model ({layers} layers, {heads} query / {kv} key-value heads)."""

    vocab_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    emb_dim: int
    mlp_dim: int
    dtype: jnp.dtype = jnp.{dtype}

    @nn.compact
    def __call__(self, tokens: jax.Array) -> jax.Array:
        embed = nn.Embed(self.vocab_size, self.emb_dim, embedding_init=nn.initializers.normal(stddev=1.0), dtype=self.dtype, name='embed')
        x = embed(tokens)
        positions = jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape)
        mask = nn.make_causal_mask(tokens)
{stack}
        x = nn.RMSNorm(epsilon={eps}, dtype=self.dtype, name='final_norm')(x)
{head}
'''
GQA_REPEAT = """        k = jnp.repeat(k, self.num_heads // self.num_kv_heads, axis=2)
        v = jnp.repeat(v, self.num_heads // self.num_kv_heads, axis=2)
        logits = jnp.einsum('bqhd,bkhd->bhqk', q, k, preferred_element_type=jnp.float32) / jnp.sqrt(self.head_dim).astype(jnp.float32)
        logits = jnp.where(mask, logits, jnp.finfo(jnp.float32).min)
        weights = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
        out = jnp.einsum('bhqk,bkhd->bqhd', weights, v)"""
GQA_GROUPED = """        b, t, _, d = q.shape
        q = q.reshape(b, t, self.num_kv_heads, self.num_heads // self.num_kv_heads, d)
        logits = jnp.einsum('btkgd,bskd->bkgts', q, k, preferred_element_type=jnp.float32) * (d ** -0.5)
        logits = jnp.where(mask[:, :, None], logits, -1e9)
        weights = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
        out = jnp.einsum('bkgts,bskd->btkgd', weights, v).reshape(b, t, self.num_heads, d)"""
SWIGLU = """        gate = nn.Dense(self.mlp_dim, use_bias=False, dtype=self.dtype, name='gate_proj')(h)
        up = nn.Dense(self.mlp_dim, use_bias=False, dtype=self.dtype, name='up_proj')(h)
        x = x + nn.Dense(x.shape[-1], use_bias=False, dtype=self.dtype, name='down_proj')({act}(gate) * up)"""
PLAIN_MLP = """        h = {act}(nn.Dense(self.mlp_dim, use_bias=False, dtype=self.dtype, name='up_proj')(h))
        x = x + nn.Dense(x.shape[-1], use_bias=False, dtype=self.dtype, name='down_proj')(h)"""
DEC_LOOP = """        for i in range(self.num_layers):
            x = DecoderLayer(self.num_heads, self.num_kv_heads, self.head_dim, self.mlp_dim, self.dtype, name=f'layers_{i}')(x, positions, mask)"""
DEC_SCAN = """        block = {block}
        x, _ = nn.scan(block, variable_axes={{'params': 0}}, split_rngs={{'params': True}}, in_axes=(nn.broadcast, nn.broadcast), length=self.num_layers)(
            self.num_heads, self.num_kv_heads, self.head_dim, self.mlp_dim, self.dtype, name='layers'
        )(x, positions, mask)"""


def decoder(d: Draw, batch: int) -> LinenModel | None:
    vocab, seq = d.pick(VOCAB[:6]), d.pick(SEQ[:7])
    head_dim = d.pick(HEAD_DIMS)
    kv = d.pick((1, 2, 4, 8))
    heads = kv * d.pick((1, 2, 4, 8))
    emb = d.pick((256, 384, 512, 768, 1024, 2048, 4096))
    if heads * head_dim > 2 * emb or heads > 32:
        return None
    layers = d.pick((1, 2, 2, 4))
    swiglu = d.chance(0.7)
    mlp = (emb * 8 // 3 // 64 * 64) if swiglu and d.chance(0.5) else emb * d.pick((2, 4))
    dtype, grouped = d.pick(("float32", "bfloat16", "bfloat16")), d.chance(0.5)
    stack = d.weighted({"loop": 3, "scan": 2, "remat": 2})
    tied = d.chance(0.4)
    act = d.pick(("nn.silu", "nn.gelu"))
    cls = d.pick(("DecoderLM", "Transformer", "CausalLM"))
    scanned = stack != "loop"
    block = "nn.remat(DecoderLayer, policy=jax.checkpoint_policies.nothing_saveable)" if stack == "remat" else "DecoderLayer"
    head = ("        return embed.attend(x.astype(jnp.float32))" if tied
            else "        return nn.Dense(self.vocab_size, use_bias=False, dtype=jnp.float32, name='lm_head')(x)")  # fmt: skip
    source = DECODER_SOURCE.format(theta=d.pick((10000.0, 500000.0)), kind="grouped-query heads" if kv < heads else "multi-head attention", dtype=dtype,
                                   attend=GQA_GROUPED if grouped else GQA_REPEAT, mlp_name="SwiGLU" if swiglu else "gated-free", ret=" -> tuple[jax.Array, None]" if scanned else " -> jax.Array",
                                   eps=d.pick((1e-5, 1e-6)), mlp=(SWIGLU if swiglu else PLAIN_MLP).format(act=act), returns="x, None" if scanned else "x",
                                   cls=cls, layers=layers, heads=heads, kv=kv, stack=DEC_SCAN.format(block=block) if scanned else DEC_LOOP, head=head)  # fmt: skip
    one = {"input_norm": norm(emb, bias=False), "post_attn_norm": norm(emb, bias=False),
           "attn": {"q_proj": dense_general(emb, (heads, head_dim), bias=False), "k_proj": dense_general(emb, (kv, head_dim), bias=False),
                    "v_proj": dense_general(emb, (kv, head_dim), bias=False), "o_proj": dense_general(0, (emb,), bias=False, in_axes=(heads, head_dim))},
           "up_proj": dense(emb, mlp, bias=False), "down_proj": dense(mlp, emb, bias=False)}  # fmt: skip
    if swiglu:
        one["gate_proj"] = dense(emb, mlp, bias=False)
    params = {"embed": embed(vocab, emb), "final_norm": norm(emb, bias=False)}
    if not tied:
        params["lm_head"] = dense(emb, vocab, bias=False)
    if scanned:
        params["layers"] = stacked(one, layers)
    else:
        params.update({f"layers_{i}": one for i in range(layers)})
    tokens = Input(d.pick(("tokens", "input_ids", "inputs")), spec("int32", batch, seq), Domain("index", 0, vocab))
    nodes = [layer("nn.Embed", [tokens.spec], [spec(dtype, batch, seq, emb)])] + [layer("DecoderLayer", [spec(dtype, batch, seq, emb)], [spec(dtype, batch, seq, emb)])] * layers
    construct = f"{cls}(vocab_size={vocab}, num_layers={layers}, num_heads={heads}, num_kv_heads={kv}, head_dim={head_dim}, emb_dim={emb}, mlp_dim={mlp})"
    return LinenModel("decoder", source, construct, params, [tokens], "lm", vocab, nodes, imports=IMPORTS | {"import functools"},
                      activations=(batch * heads * seq * seq, batch * seq * max(mlp, vocab)), work=2 * layers * batch * seq * seq * heads * head_dim,
                      loops=(layers,) if scanned else ())  # fmt: skip


RNN_SOURCE = '''class {cls}(nn.Module):
    """Embeds tokens, runs {desc} over them and classifies the final state."""

    vocab_size: int
    embed_dim: int
    hidden_size: int
    num_classes: int

    @nn.compact
    def __call__(self, tokens: jax.Array, lengths: jax.Array) -> jax.Array:
        x = nn.Embed(self.vocab_size, self.embed_dim)(tokens)
{run}
        return nn.Dense(self.num_classes)(h)
'''
RUNS = {
    "lstm": "        (c, h), _ = nn.RNN(nn.LSTMCell(self.hidden_size), return_carry=True)(x, seq_lengths=lengths)",
    "gru": "        h, _ = nn.RNN(nn.GRUCell(self.hidden_size), return_carry=True)(x, seq_lengths=lengths)",
    "bigru": "        outputs = nn.Bidirectional(nn.RNN(nn.GRUCell(self.hidden_size)), nn.RNN(nn.GRUCell(self.hidden_size)))(x, seq_lengths=lengths)\n"
    "        mask = jnp.arange(tokens.shape[1])[None, :] < lengths[:, None]\n"
    "        h = jnp.sum(outputs * mask[..., None], axis=1) / lengths[:, None]  # mean over the real positions",
}


def rnn(d: Draw, batch: int) -> LinenModel | None:
    kind = d.pick(tuple(RUNS))
    vocab, seq = d.pick(VOCAB[:5]), d.pick(SEQ[:5])
    emb, hidden, classes = d.pick((32, 64, 128, 256, 300)), d.pick((64, 128, 256, 512)), d.pick((2, 5, 10))
    desc = {"lstm": "an LSTM", "gru": "a GRU", "bigru": "a bidirectional GRU"}[kind]
    cls = d.pick(("TextClassifier", "SentimentModel", "RNNClassifier"))
    params = {"Embed_0": embed(vocab, emb)}
    if kind == "lstm":
        params["LSTMCell_0"] = lstm(emb, hidden)
    elif kind == "gru":
        params["GRUCell_0"] = gru(emb, hidden)
    else:
        params["GRUCell_0"], params["GRUCell_1"] = gru(emb, hidden), gru(emb, hidden)
    out = 2 * hidden if kind == "bigru" else hidden
    params["Dense_0"] = dense(out, classes)
    tokens = Input(d.pick(("tokens", "token_ids")), spec("int32", batch, seq), Domain("index", 0, vocab))
    lengths = Input("lengths", spec("int32", batch), Domain("int", 1, seq))
    nodes = [layer("nn.Embed", [tokens.spec], [f32(batch, seq, emb)]), layer(f"nn.RNN[{kind}]", [f32(batch, seq, emb)], [f32(batch, out)])]
    source = RNN_SOURCE.format(cls=cls, desc=desc, run=RUNS[kind])
    return LinenModel("rnn", source, f"{cls}(vocab_size={vocab}, embed_dim={emb}, hidden_size={hidden}, num_classes={classes})", params, [tokens, lengths],
                      "classify", classes, nodes, imports=set(IMPORTS), activations=(batch * seq * 4 * hidden,),
                      loops=(seq, seq) if kind == "bigru" else (seq,))  # one lax.scan over time per nn.RNN  # fmt: skip
