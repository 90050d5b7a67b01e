"""Linen families over images (NHWC, as flax's examples take them): a small CNN (examples/mnist),
a ResNet with BatchNorm (examples/imagenet), a U-Net of residual blocks with a timestep embedding, and big_vision's ViT."""

from __future__ import annotations

from math import ceil

from ..domains import Domain
from .base import Draw, f32, layer, spec
from .linen_layers import attention, batch_stats, conv, dense, norm, stacked
from .linen_model import ACTIVATIONS, Input, LinenModel, choose_dtypes, dtype_fields, dtype_kwargs

IMPORTS = {"import jax", "import jax.numpy as jnp", "import flax.linen as nn"}
IMAGES = ((28, 28, 1), (32, 32, 3), (64, 64, 3), (96, 96, 3), (128, 128, 3), (224, 224, 3))


def _fields(*lines: str) -> str:
    return "\n".join("    " + line for text in lines for line in text.splitlines() if line)


def cnn(d: Draw, batch: int) -> LinenModel | None:
    """flax's examples/mnist CNN, unrolled as written there: conv, activation, pool, then dense layers."""
    h, w, c = d.pick(IMAGES[:4])
    stages = d.pick((2, 2, 3))
    channels = [d.pick((16, 32)) * 2**i for i in range(stages)]
    kernel = d.pick(((3, 3), (3, 3), (5, 5)))
    pool = d.pick(("nn.avg_pool", "nn.max_pool"))
    act = d.pick(ACTIVATIONS[:3])
    hidden, classes = d.pick((128, 256, 512)), d.pick((10, 10, 100))
    head = d.pick(("flatten", "mean"))
    param_dtype, dtype = choose_dtypes(d)
    kw = dtype_kwargs(param_dtype, dtype)
    lines, params, nodes = [], {}, []
    size_h, size_w, prev = h, w, c
    for i, ch in enumerate(channels):
        lines += [f"x = nn.Conv(features={ch}, kernel_size={kernel}{', ' + kw if kw else ''})(x)", f"x = {act}(x)", f"x = {pool}(x, window_shape=(2, 2), strides=(2, 2))"]
        params[f"Conv_{i}"] = conv(kernel, prev, ch, param_dtype)
        nodes.append(layer("nn.Conv", [spec(dtype, batch, size_h, size_w, prev)], [spec(dtype, batch, size_h, size_w, ch)]))
        size_h, size_w, prev = size_h // 2, size_w // 2, ch
    if head == "flatten":
        lines.append("x = x.reshape((x.shape[0], -1))  # flatten")
        flat = size_h * size_w * prev
    else:
        lines.append("x = jnp.mean(x, axis=(1, 2))  # global average pooling")
        flat = prev
    lines += [f"x = nn.Dense(features={hidden}{', ' + kw if kw else ''})(x)", f"x = {act}(x)", f"x = nn.Dense(features={classes}{', ' + kw if kw else ''})(x)"]
    params["Dense_0"], params["Dense_1"] = dense(flat, hidden, param_dtype), dense(hidden, classes, param_dtype)
    nodes.append(layer("nn.Dense", [spec(dtype, batch, flat)], [spec(dtype, batch, classes)]))
    cls = d.pick(("CNN", "ConvNet", "SimpleCNN"))
    fields = dtype_fields(param_dtype, dtype)
    source = f'''class {cls}(nn.Module):
    """A simple CNN model."""
{(chr(10) + _fields(fields) + chr(10)) if fields else ''}
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
{chr(10).join('        ' + line for line in lines)}
        return x
'''
    images = Input(d.pick(("images", "x", "inputs")), f32(batch, h, w, c), Domain("real", 0, 1))
    work = sum(batch * (h >> i) * (w >> i) * (c if i == 0 else channels[i - 1]) * ch * kernel[0] * kernel[1] for i, ch in enumerate(channels))
    return LinenModel("cnn", source, f"{cls}()", params, [images], "classify", classes, nodes, imports=set(IMPORTS),
                      activations=(batch * h * w * channels[0] * kernel[0] * kernel[1],), work=work)  # fmt: skip


RESNET_SOURCE = '''ModuleDef = Any


class {block}(nn.Module):
    """A ResNet basic block: two 3x3 convolutions and a projection when the shape changes."""

    filters: int
    conv: ModuleDef
    norm: ModuleDef
    act: Callable
    strides: tuple[int, int] = (1, 1)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        residual = x
        y = self.conv(self.filters, (3, 3), self.strides)(x)
        y = self.norm()(y)
        y = self.act(y)
        y = self.conv(self.filters, (3, 3))(y)
        y = self.norm(scale_init=nn.initializers.zeros_init())(y)
        if residual.shape != y.shape:
            residual = self.conv(self.filters, (1, 1), self.strides, name='conv_proj')(residual)
            residual = self.norm(name='norm_proj')(residual)
        return self.act(residual + y)


class ResNet(nn.Module):
    """ResNet{depth}: a {stem_name} stem, then stages of basic blocks, global average pooling and a linear head."""

    stage_sizes: Sequence[int]
    num_classes: int
    num_filters: int = 64
    dtype: Any = jnp.{dtype}
    act: Callable = {act}

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        conv = functools.partial(nn.Conv, use_bias=False, dtype=self.dtype)
        norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum={momentum}, epsilon=1e-5, dtype=self.dtype)
{stem}
        for i, block_size in enumerate(self.stage_sizes):
            for j in range(block_size):
                strides = (2, 2) if i > 0 and j == 0 else (1, 1)
                x = {block}(self.num_filters * 2**i, strides=strides, conv=conv, norm=norm, act=self.act)(x)
        x = jnp.mean(x, axis=(1, 2))
        x = nn.Dense(self.num_classes, dtype=self.dtype)(x)
        return jnp.asarray(x, self.dtype)
'''
STEMS = {
    "ImageNet": "        x = conv(self.num_filters, (7, 7), (2, 2), padding=[(3, 3), (3, 3)], name='conv_init')(x)\n"
    "        x = norm(name='bn_init')(x)\n        x = nn.relu(x)\n        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding='SAME')",
    "CIFAR": "        x = conv(self.num_filters, (3, 3), name='conv_init')(x)\n        x = norm(name='bn_init')(x)\n        x = nn.relu(x)",
}


def resnet(d: Draw, batch: int) -> LinenModel | None:
    stem = d.pick(("ImageNet", "CIFAR"))
    h, w, c = d.pick(IMAGES[3:]) if stem == "ImageNet" else d.pick(IMAGES[1:3])
    stages = d.pick(((1, 1), (1, 1, 1), (2, 2), (1, 1, 1, 1), (2, 2, 2), (2, 2, 2, 2)))
    filters, classes = d.pick((8, 16, 16, 32, 64)), d.pick((10, 100, 1000))
    dtype = d.pick(("float32", "float32", "bfloat16"))
    act = d.pick(("nn.relu", "nn.relu", "nn.swish"))
    params = {"conv_init": conv((7, 7) if stem == "ImageNet" else (3, 3), c, filters, bias=False), "bn_init": norm(filters)}
    stats = {"bn_init": batch_stats(filters)}
    size = ceil(h / 4) if stem == "ImageNet" else h
    nodes, prev, k = [layer("stem", [f32(batch, h, w, c)], [spec(dtype, batch, size, size, filters)])], filters, 0
    for i, blocks in enumerate(stages):
        for j in range(blocks):
            ch = filters * 2**i
            stride = 2 if i > 0 and j == 0 else 1
            block = {"Conv_0": conv((3, 3), prev, ch, bias=False), "BatchNorm_0": norm(ch), "Conv_1": conv((3, 3), ch, ch, bias=False), "BatchNorm_1": norm(ch)}
            bstats = {"BatchNorm_0": batch_stats(ch), "BatchNorm_1": batch_stats(ch)}
            if stride != 1 or prev != ch:
                block.update(conv_proj=conv((1, 1), prev, ch, bias=False), norm_proj=norm(ch))
                bstats["norm_proj"] = batch_stats(ch)
            params[f"ResNetBlock_{k}"], stats[f"ResNetBlock_{k}"] = block, bstats
            new = ceil(size / stride)
            nodes.append(layer("ResNetBlock", [spec(dtype, batch, size, size, prev)], [spec(dtype, batch, new, new, ch)]))
            size, prev, k = new, ch, k + 1
    params["Dense_0"] = dense(prev, classes)
    source = RESNET_SOURCE.format(block="ResNetBlock", depth=2 + 2 * sum(stages), stem=STEMS[stem], dtype=dtype, act=act,
                                  momentum=d.pick((0.9, 0.99)), stem_name=stem)  # fmt: skip
    images = Input(d.pick(("images", "x", "batch_images")), f32(batch, h, w, c))
    first = (ceil(h / 2) ** 2) if stem == "ImageNet" else h * w
    return LinenModel(
        "resnet", source, f"ResNet(stage_sizes={list(stages)}, num_classes={classes}, num_filters={filters})", params, [images], "classify", classes, nodes,
        imports=IMPORTS | {"import functools", "from typing import Any, Callable, Sequence"}, batch_stats=stats, train_arg=True,
        activations=(batch * first * filters * 9,), work=batch * first * filters * 9 * 2 * sum(stages) * filters,
    )  # fmt: skip


UNET_SOURCE = '''def timestep_embedding(t: jax.Array, dim: int, max_period: float = 10000.0) -> jax.Array:
    """Sinusoidal embeddings of diffusion timesteps, as in DDPM."""
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
    args = t.astype(jnp.float32)[:, None] * freqs[None, :]
    return jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)


class ResBlock(nn.Module):
    """A residual block conditioned on the timestep embedding."""

    out_channels: int
    num_groups: int = {groups}

    @nn.compact
    def __call__(self, x: jax.Array, t_emb: jax.Array) -> jax.Array:
        h = nn.GroupNorm(num_groups=self.num_groups)(x)
        h = {act}(h)
        h = nn.Conv(self.out_channels, (3, 3))(h)
        h = h + nn.Dense(self.out_channels)({act}(t_emb))[:, None, None, :]
        h = nn.GroupNorm(num_groups=self.num_groups)(h)
        h = {act}(h)
        h = nn.Conv(self.out_channels, (3, 3))(h)
        if x.shape[-1] != self.out_channels:
            x = nn.Conv(self.out_channels, (1, 1), name='skip_proj')(x)
        return x + h


class UNet(nn.Module):
    """A small U-Net noise predictor: down path, middle block, up path with skip connections."""

    channels: Sequence[int]
    out_channels: int = {c_out}

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array) -> jax.Array:
        emb_dim = 4 * self.channels[0]
        t_emb = timestep_embedding(t, self.channels[0])
        t_emb = nn.Dense(emb_dim)(t_emb)
        t_emb = nn.Dense(emb_dim)({act}(t_emb))
        h = nn.Conv(self.channels[0], (3, 3))(x)
        skips = []
        for ch in self.channels:
            h = ResBlock(ch)(h, t_emb)
            skips.append(h)
            h = {down}
        h = ResBlock(self.channels[-1])(h, t_emb)
        for ch, skip in zip(reversed(self.channels), reversed(skips)):
            h = {up}
            h = jnp.concatenate([h, skip], axis=-1)
            h = ResBlock(ch)(h, t_emb)
        h = {act}(nn.GroupNorm(num_groups={groups})(h))
        return nn.Conv(self.out_channels, (3, 3))(h)
'''
DOWN = {"pool": "nn.avg_pool(h, (2, 2), strides=(2, 2))", "conv": "nn.Conv(ch, (3, 3), strides=(2, 2))(h)"}
UP = {"resize": "jax.image.resize(h, (h.shape[0], h.shape[1] * 2, h.shape[2] * 2, h.shape[3]), method='nearest')",
      "transpose": "nn.ConvTranspose(ch, (2, 2), strides=(2, 2))(h)"}  # fmt: skip


def _resblock(c_in: int, c_out: int, emb: int) -> dict:
    tree = {"GroupNorm_0": norm(c_in), "Conv_0": conv((3, 3), c_in, c_out), "Dense_0": dense(emb, c_out), "GroupNorm_1": norm(c_out), "Conv_1": conv((3, 3), c_out, c_out)}
    if c_in != c_out:
        tree["skip_proj"] = conv((1, 1), c_in, c_out)
    return tree


def unet(d: Draw, batch: int) -> LinenModel | None:
    h, w, c = d.pick(((16, 16, 3), (32, 32, 3), (32, 32, 1), (64, 64, 3), (28, 28, 1)))
    levels = d.pick((1, 2, 2, 3))
    if h % (2**levels):
        return None
    base = d.pick((32, 64))
    channels = [base * m for m in d.pick(((1, 2, 2), (1, 2, 4), (1, 1, 2)))[:levels]]
    groups, act = d.pick((8, 16, 32)), d.pick(("nn.silu", "nn.swish", "nn.gelu"))
    down, up = d.pick(tuple(DOWN)), d.pick(tuple(UP))
    emb = 4 * channels[0]
    params = {"Dense_0": dense(channels[0], emb), "Dense_1": dense(emb, emb), "Conv_0": conv((3, 3), c, channels[0])}
    k, conv_k, up_k, prev, size, skips = 0, 1, 0, channels[0], h, []
    nodes = [layer("timestep_embedding", [spec("int32", batch)], [f32(batch, emb)])]
    for ch in channels:
        params[f"ResBlock_{k}"], k = _resblock(prev, ch, emb), k + 1
        skips.append(ch)
        nodes.append(layer("ResBlock", [f32(batch, size, size, prev)], [f32(batch, size, size, ch)]))
        if down == "conv":
            params[f"Conv_{conv_k}"], conv_k = conv((3, 3), ch, ch), conv_k + 1
        prev, size = ch, size // 2
    params[f"ResBlock_{k}"], k = _resblock(prev, channels[-1], emb), k + 1
    for ch, skip in zip(reversed(channels), reversed(skips), strict=True):
        if up == "transpose":
            params[f"ConvTranspose_{up_k}"], up_k = conv((2, 2), prev, ch), up_k + 1
            prev = ch
        size *= 2
        params[f"ResBlock_{k}"], k = _resblock(prev + skip, ch, emb), k + 1
        nodes.append(layer("ResBlock", [f32(batch, size, size, prev + skip)], [f32(batch, size, size, ch)]))
        prev = ch
    params["GroupNorm_0"], params[f"Conv_{conv_k}"] = norm(prev), conv((3, 3), prev, c)
    source = UNET_SOURCE.format(groups=groups, act=act, c_out=c, down=DOWN[down], up=UP[up])
    inputs = [Input(d.pick(("x", "noisy_images", "x_t")), f32(batch, h, w, c)), Input("t", spec("int32", batch), Domain("index", 0, 1000))]
    return LinenModel("unet", source, f"UNet(channels={tuple(channels)!r})", params, inputs, "noise", c, nodes,
                      imports=IMPORTS | {"import math", "from typing import Sequence"}, activations=(batch * h * w * 2 * channels[0] * 9,),
                      work=batch * h * w * 9 * 4 * sum(ch * ch for ch in channels))  # fmt: skip


VIT_SOURCE = '''class MlpBlock(nn.Module):
    """Transformer MLP / feed-forward block."""

    mlp_dim: int | None = None  # Defaults to 4x input dim.
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool = True) -> jax.Array:
        inits = dict(kernel_init=nn.initializers.xavier_uniform(), bias_init=nn.initializers.normal(stddev=1e-6))
        n, l, d = x.shape
        x = nn.Dense(self.mlp_dim or 4 * d, **inits)(x)
        x = nn.gelu(x)
        x = nn.Dropout(rate=self.dropout)(x, deterministic)
        x = nn.Dense(d, **inits)(x)
        return x


class Encoder1DBlock(nn.Module):
    """Single transformer encoder block (MHSA + MLP)."""

    mlp_dim: int | None = None
    num_heads: int = 12
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool = True){ret}:
        y = nn.LayerNorm()(x)
        y = nn.MultiHeadDotProductAttention(num_heads=self.num_heads, kernel_init=nn.initializers.xavier_uniform(), deterministic=deterministic)(y, y)
        y = nn.Dropout(rate=self.dropout)(y, deterministic)
        x = x + y
        y = nn.LayerNorm()(x)
        y = MlpBlock(mlp_dim=self.mlp_dim, dropout=self.dropout)(y, deterministic)
        y = nn.Dropout(rate=self.dropout)(y, deterministic)
        x = x + y
        return {block_out}


class Encoder(nn.Module):
    """Transformer Model Encoder for sequence to sequence translation."""

    depth: int
    mlp_dim: int | None = None
    num_heads: int = 12
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool = True) -> jax.Array:
{stack}
        return nn.LayerNorm(name='encoder_norm')(x)
{map_head}

class VisionTransformer(nn.Module):
    """ViT: {patch}x{patch} patches embedded by a strided convolution, {posemb} position embeddings, {depth} encoder blocks and a {pool} head."""

    num_classes: int
    patch_size: tuple[int, int] = ({patch}, {patch})
    width: int = {width}
    depth: int = {depth}
    mlp_dim: int | None = {mlp}
    num_heads: int = {heads}
    dropout: float = {dropout}

    @nn.compact
    def __call__(self, image: jax.Array, *, train: bool = False) -> jax.Array:
        x = nn.Conv(self.width, self.patch_size, strides=self.patch_size, padding='VALID', name='embedding')(image)
        n, h, w, c = x.shape
        x = jnp.reshape(x, [n, h * w, c])
{posemb_code}
{cls_code}        x = nn.Dropout(rate=self.dropout)(x, not train)
        x = Encoder(depth=self.depth, mlp_dim=self.mlp_dim, num_heads=self.num_heads, dropout=self.dropout, name='Transformer')(x, deterministic=not train)
{pool_code}
        return nn.Dense(self.num_classes, name='head', kernel_init=nn.initializers.zeros)(x)
'''
VIT_LOOP = """        for lyr in range(self.depth):
            x = Encoder1DBlock(name=f'encoderblock_{lyr}', mlp_dim=self.mlp_dim, num_heads=self.num_heads, dropout=self.dropout)(x, deterministic)"""
VIT_SCAN = """        block = nn.remat(Encoder1DBlock, prevent_cse=False, static_argnums=(2,), policy={policy})
        x, _ = nn.scan(block, variable_axes={{'params': 0}}, split_rngs={{'params': True, 'dropout': True}}, in_axes=nn.broadcast, length=self.depth)(
            name='encoderblock', mlp_dim=self.mlp_dim, num_heads=self.num_heads, dropout=self.dropout)(x, deterministic)"""
VIT_POSEMB = {
    "learned": "        x = x + self.param('pos_embedding', nn.initializers.normal(stddev=1 / np.sqrt(c)), (1, h * w, c), x.dtype)",
    "sincos2d": "        x = x + posemb_sincos_2d(h, w, c, dtype=x.dtype)",
}
SINCOS = '''def posemb_sincos_2d(h: int, w: int, width: int, temperature: float = 10_000.0, dtype: jnp.dtype = jnp.float32) -> jax.Array:
    """Follows the MoCo v3 logic."""
    y, x = jnp.mgrid[:h, :w]
    omega = jnp.arange(width // 4) / (width // 4 - 1)
    omega = 1.0 / (temperature**omega)
    y = jnp.einsum('m,d->md', y.flatten(), omega)
    x = jnp.einsum('m,d->md', x.flatten(), omega)
    pe = jnp.concatenate([jnp.sin(x), jnp.cos(x), jnp.sin(y), jnp.cos(y)], axis=1)
    return jnp.asarray(pe, dtype)[None, :, :]


'''
MAP_HEAD = '''

class MAPHead(nn.Module):
    """Multihead Attention Pooling."""

    mlp_dim: int | None = None  # Defaults to 4x input dim
    num_heads: int = 12

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        n, l, d = x.shape
        probe = self.param('probe', nn.initializers.xavier_uniform(), (1, 1, d), x.dtype)
        probe = jnp.tile(probe, [n, 1, 1])
        x = nn.MultiHeadDotProductAttention(num_heads=self.num_heads, kernel_init=nn.initializers.xavier_uniform())(probe, x)
        y = nn.LayerNorm()(x)
        x = x + MlpBlock(mlp_dim=self.mlp_dim)(y)
        return x[:, 0]
'''
VIT_POOLS = {
    "gap": "        x = jnp.mean(x, axis=1)",
    "tok": "        x = x[:, 0]",
    "map": "        x = MAPHead(num_heads=self.num_heads, mlp_dim=self.mlp_dim)(x)",
}


def vit(d: Draw, batch: int) -> LinenModel | None:
    """big_vision's ViT (models/vit.py), trimmed to what a classifier runs: patch embedding, learned or
    sin-cos 2D position embeddings, an optional class token, Encoder1DBlocks (a Python loop, or nn.scan
    over nn.remat as big_vision scans them), and a global-average, class-token or MAP head."""
    h, w, c = d.pick(IMAGES[1:])
    patch = d.pick(tuple(p for p in (4, 8, 16, 32) if h % p == 0 and 4 <= h // p <= 16))
    heads = d.pick((2, 3, 4, 6, 8))
    width = heads * d.pick((16, 32, 64))
    depth, mlp = d.pick((1, 2, 4, 6)), d.pick((None, None, 2 * width, 3 * width))
    classes, dropout = d.pick((10, 100, 1000)), d.pick((0.0, 0.0, 0.1))
    posemb, pool, scanned = d.pick(tuple(VIT_POSEMB)), d.pick(tuple(VIT_POOLS)), d.chance(0.4)
    if posemb == "sincos2d" and width % 4:
        return None
    tokens = (h // patch) * (w // patch) + (pool == "tok")
    hidden = mlp or 4 * width
    policy = d.pick(("None", "jax.checkpoint_policies.nothing_saveable", "jax.checkpoint_policies.dots_with_no_batch_dims_saveable"))
    block = {"LayerNorm_0": norm(width), "MultiHeadDotProductAttention_0": attention(width, heads, width, width), "LayerNorm_1": norm(width),
             "MlpBlock_0": {"Dense_0": dense(width, hidden), "Dense_1": dense(hidden, width)}}  # fmt: skip
    encoder: dict = {"encoder_norm": norm(width)}
    if scanned:
        encoder["encoderblock"] = stacked(block, depth)
    else:
        encoder.update({f"encoderblock_{i}": block for i in range(depth)})
    params: dict = {"embedding": conv((patch, patch), c, width), "Transformer": encoder, "head": dense(width, classes)}
    if posemb == "learned":
        params["pos_embedding"] = f32(1, tokens - (pool == "tok"), width)
    if pool == "tok":
        params["cls"] = f32(1, 1, width)
    if pool == "map":
        params["MAPHead_0"] = {"probe": f32(1, 1, width), "MultiHeadDotProductAttention_0": attention(width, heads, width, width), "LayerNorm_0": norm(width),
                               "MlpBlock_0": {"Dense_0": dense(width, hidden), "Dense_1": dense(hidden, width)}}  # fmt: skip
    cls_code = ("        cls = self.param('cls', nn.initializers.zeros, (1, 1, c), x.dtype)\n"
                "        x = jnp.concatenate([jnp.tile(cls, [n, 1, 1]), x], axis=1)\n") if pool == "tok" else ""  # fmt: skip
    source = VIT_SOURCE.format(
        ret=" -> tuple[jax.Array, None]" if scanned else " -> jax.Array", block_out="x, None" if scanned else "x",
        stack=VIT_SCAN.format(policy=policy) if scanned else VIT_LOOP, map_head=MAP_HEAD if pool == "map" else "",
        patch=patch, posemb=posemb, depth=depth, pool=pool, width=width, mlp=mlp, heads=heads, dropout=dropout,
        posemb_code=VIT_POSEMB[posemb], cls_code=cls_code, pool_code=VIT_POOLS[pool],
    )  # fmt: skip
    if posemb == "sincos2d":
        source = SINCOS + source
    images = Input(d.pick(("images", "image", "x")), f32(batch, h, w, c), Domain("real", 0, 1))
    nodes = [layer("patch_embedding", [images.spec], [f32(batch, tokens, width)])] + [layer("Encoder1DBlock", [f32(batch, tokens, width)], [f32(batch, tokens, width)])] * depth
    imports = set(IMPORTS) | ({"import numpy as np"} if posemb == "learned" else set())
    return LinenModel("vit", source, f"VisionTransformer(num_classes={classes})", params, [images], "classify", classes, nodes, imports=imports,
                      train_arg=True, dropout=dropout > 0, activations=(batch * heads * tokens * tokens, batch * tokens * hidden),
                      work=2 * depth * batch * tokens * tokens * width, loops=(depth,) if scanned else ())  # fmt: skip
