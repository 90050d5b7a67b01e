"""A drawn flax.linen model: its class source, how it is built and called, and its analytic variables.

Families (`linen_dense`, `linen_vision`, `linen_sequence`, `linen_graph`) each draw one; the
categories (`flax_linen`, `optax_training`) wrap it in what people call it from: an apply wrapper,
a train step, an eval step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..domains import Domain
from ..specs import TensorSpec
from .base import Arg, Draw, Layer, SpecTree, arg_values, fits

BATCH = (1, 2, 4, 8, 16, 32, 64, 128, 256)
SEQ = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
HIDDEN = (64, 128, 256, 384, 512, 768, 1024, 2048, 4096)
VOCAB = (256, 1000, 4096, 8192, 16384, 32000, 50257)
CLASSES = (2, 10, 100, 1000)
ACTIVATIONS = ("nn.relu", "nn.gelu", "nn.silu", "nn.tanh", "nn.elu", "nn.swish")
INITS = (
    "nn.initializers.lecun_normal()", "nn.initializers.xavier_uniform()", "nn.initializers.he_normal()",
    "nn.initializers.normal(stddev=0.02)", "nn.initializers.truncated_normal(stddev=0.02)", "nn.initializers.variance_scaling(1.0, 'fan_in', 'normal')",
)  # fmt: skip
PRNG_KEY = TensorSpec((2,), "uint32")  # `jax.random.PRNGKey(seed)`: the raw uint32[2] key real flax code passes


@dataclass(frozen=True)
class Input:
    """A model input after the variables: its argument name, spec, domain and annotation."""

    name: str
    spec: TensorSpec
    domain: Domain | None = None
    annotation: str = "jax.Array"

    def arg(self) -> Arg:
        return Arg(self.name, self.spec, self.domain)


@dataclass
class LinenModel:
    """One drawn linen model. `output` says what `apply` returns, for the losses that fit it:
    'classify' (logits [B, C]), 'lm' (logits [B, L, V] over `inputs[0]`'s tokens), 'regress' ([B, D]),
    'dense' (per-position [..., D]), 'vae' (recon logits, mean, logvar)."""

    family: str
    source: str
    construct: str
    params: dict[str, SpecTree]
    inputs: list[Input]
    output: str
    out_dim: int
    nodes: list[Layer]
    imports: set[str] = field(default_factory=set)
    batch_stats: dict[str, SpecTree] | None = None
    train_arg: bool = False  # `__call__` takes `train`
    dropout: bool = False  # `train=True` needs rngs={'dropout': ...}
    activations: tuple[int, ...] = ()  # element counts of its largest intermediates
    work: int = 0  # multiply-adds of a forward pass beyond the weights' (attention, convolutions)
    # Trip counts of the lax loops one forward pass runs (nn.scan over layers, nn.RNN over time), in the
    # order the lowered module holds them; JAX's own loops (the threefry PRNG's rounds) are not listed.
    loops: tuple[int, ...] = ()

    @property
    def batch(self) -> int:
        return self.inputs[0].spec.shape[0]

    def forward_work(self) -> int:
        """Multiply-adds of one forward pass: every weight used once per example (per position), plus `work`;
        an embedding table is gathered from, not multiplied."""
        positions = self.inputs[0].spec.size if self.inputs[0].spec.dtype.startswith("int") else self.batch
        weights = sum(s.size for v in arg_values(Arg("params", self.params)) if "embed" not in v.name for s in [v.spec])
        return positions * weights + self.work

    def variables(self) -> list[Arg]:
        out = [Arg("params", self.params)]
        if self.batch_stats is not None:
            out.append(Arg("batch_stats", self.batch_stats))
        return out


Family = Callable[[Draw, int], "LinenModel | None"]


def draw_model(d: Draw, families: dict[Family, float]) -> LinenModel:
    """A model of a family drawn by weight, at the largest drawn-or-smaller batch that stays executable
    (the family is drawn once: retries redraw its sizes, so every family keeps its share)."""
    family = d.weighted(families)
    for _ in range(200):
        top = d.pick(BATCH)
        for batch in sorted((b for b in BATCH if b <= top), reverse=True):
            model = family(d, batch)
            if model is not None and fits([*model.variables(), *(i.arg() for i in model.inputs)], model.activations, model.forward_work()):
                return model
    raise RuntimeError("no linen model fitted the size budget in 200 draws")


def choose_dtypes(d: Draw) -> tuple[str, str]:
    """(param_dtype, dtype) as real code sets them: f32 throughout, bf16 activations over f32 params, or bf16 both."""
    return d.weighted({("float32", "float32"): 5, ("float32", "bfloat16"): 3, ("bfloat16", "bfloat16"): 1})


def dtype_kwargs(param_dtype: str, dtype: str) -> str:
    """The keyword arguments a layer gets for mixed precision (empty at f32)."""
    parts = []
    if dtype != "float32":
        parts.append("dtype=self.dtype")
    if param_dtype != "float32":
        parts.append("param_dtype=self.param_dtype")
    return ", ".join(parts)


def dtype_fields(param_dtype: str, dtype: str) -> str:
    """The dataclass fields a module declares for its dtypes (none at f32)."""
    lines = []
    if dtype != "float32":
        lines.append(f"dtype: jnp.dtype = jnp.{dtype}")
    if param_dtype != "float32":
        lines.append(f"param_dtype: jnp.dtype = jnp.{param_dtype}")
    return "\n".join(lines)


def join_kwargs(*parts: str) -> str:
    return ", ".join(p for p in parts if p)
