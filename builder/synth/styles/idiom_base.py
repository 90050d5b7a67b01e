"""What a plain-JAX idiom draws: module blocks, the entry point, its arguments and structure nodes;
and the helpers several idioms define the same way real code does (RMSNorm, layer norm, RoPE)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import Arg, Layer, arg_values

IMPORTS = {"import jax", "import jax.numpy as jnp"}

RMS_NORM = '''def rms_norm(x: jax.Array, scale: jax.Array, eps: float = {eps}) -> jax.Array:
    """RMSNorm, computed in float32 whatever the input dtype."""
    x32 = x.astype(jnp.float32)
    normed = x32 * jax.lax.rsqrt(jnp.mean(jnp.square(x32), axis=-1, keepdims=True) + eps)
    return (normed * scale.astype(jnp.float32)).astype(x.dtype)
'''
LAYER_NORM = '''def layer_norm(x: jax.Array, scale: jax.Array, bias: jax.Array, eps: float = 1e-5) -> jax.Array:
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.var(x, axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * scale + bias
'''
ROPE = '''def apply_rope(x: jax.Array, positions: jax.Array, theta: float = {theta}) -> jax.Array:
    """Rotates pairs of features of x [..., heads, head_dim] by angles that grow with the position."""
    half = x.shape[-1] // 2
    inv_freq = 1.0 / (theta ** (jnp.arange(0, half, dtype=jnp.float32) / half))
    angles = positions[..., None].astype(jnp.float32) * inv_freq
    sin, cos = jnp.sin(angles)[..., None, :], jnp.cos(angles)[..., None, :]
    x1, x2 = x[..., :half].astype(jnp.float32), x[..., half:].astype(jnp.float32)
    return jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1).astype(x.dtype)
'''


@dataclass
class Idiom:
    """One drawn plain-JAX program."""

    name: str  # the family, for structure nodes
    blocks: list[str]
    entry_point: str
    args: list[Arg]
    nodes: list[Layer]
    imports: set[str] = field(default_factory=lambda: set(IMPORTS))
    activations: tuple[int, ...] = ()
    work: int = 0  # multiply-adds of the program (estimated by the family)
    differentiable: bool = True
    loops: list[int] = field(default_factory=list)  # trip counts, as `StyledProgram.loop_trip_counts`


def signature(args: list[Arg], annotations: dict[str, str] | None, extra: str = "") -> str:
    """A parameter list, annotated as real code annotates it when `annotations` is given."""
    if annotations is None:
        names = [a.name for a in args]
    else:
        names = [f"{a.name}: {annotations.get(a.name, 'jax.Array')}" for a in args]
    return ", ".join(names + ([extra] if extra else []))



def args_doc(args: list[Arg], width: int = 100) -> list[str]:
    """A Google-style `Args:` section giving the shape of every argument leaf, as documented JAX code does."""
    lines = ["Args:"]
    for a in args:
        parts = [" ".join(p for p in (_path(v.name, a.name), f"{v.spec.dtype}[{', '.join(map(str, v.spec.shape))}]") if p) for v in arg_values(a)]
        line = f"  {a.name}: "
        for i, part in enumerate(parts):
            piece = part + (", " if i < len(parts) - 1 else "")
            if len(line) + len(piece) > width and not line.endswith(": "):
                lines.append(line.rstrip())
                line = "    "
            line += piece
        lines.append(line.rstrip())
    return lines


def _path(name: str, root: str) -> str:
    """`params['layers']['wq']` under `params` -> `layers.wq`."""
    keys = name[len(root) :].replace("'", "").replace("][", ".").strip("[]")
    return keys


def with_args_doc(source: str, entry: str, args: list[Arg]) -> str:
    """`source` with the entry point's docstring extended by `args_doc` (or given one that holds it)."""
    head = source.index(f"def {entry}(")
    body = source.index(":\n", source.index(")", head)) + 2
    section = "\n".join(("    " + line).rstrip() for line in args_doc(args))
    if source[body:].lstrip().startswith('"""'):
        end = source.index('"""', source.index('"""', body) + 3)
        return source[:end].rstrip() + "\n\n" + section + "\n    " + source[end:]
    return source[:body] + '    """Shapes of the arguments.\n\n' + section + '\n    """\n' + source[body:]
