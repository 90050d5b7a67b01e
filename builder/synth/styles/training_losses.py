"""The loss, data arguments and metrics of a training or eval step, chosen by what the model predicts:
softmax cross-entropy with integer labels (or smoothed one-hot, or sigmoid BCE), masked next-token
cross-entropy with an optional z-loss, MSE / L2 / Huber regression, a symmetric contrastive (InfoNCE)
loss over two views, the VAE's BCE + KL, a MoE's load-balancing term, and a DDPM noise-prediction step."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domains import Domain, default_domain
from ..specs import TensorSpec
from .base import Arg, Draw, Leaf
from .linen_model import PRNG_KEY, LinenModel

DICT_KEYS = {"images": "image", "x": "x", "inputs": "inputs", "features": "features", "tokens": "tokens", "input_ids": "input_ids", "token_ids": "token_ids",
             "batch_images": "image", "batch": "image", "nodes": "nodes", "edges": "edges", "senders": "senders", "receivers": "receivers", "lengths": "lengths",
             "noisy_images": "image", "x_t": "image"}  # fmt: skip


@dataclass
class LossCode:
    """How a step computes its loss: model calls (target, inputs), lines after them, the aux loss_fn returns."""

    name: str
    doc: str
    calls: list[tuple[str, list[str]]]
    lines: list[str]
    aux: str | None
    metrics: dict[str, str]
    batch: list[Arg]
    keys: list[Arg] = field(default_factory=list)  # PRNG keys every step takes
    dropout: bool = False  # a train step also takes `dropout_rng`
    setup: list[str] = field(default_factory=list)  # lines before loss_fn
    helpers: list[str] = field(default_factory=list)  # module-level code

    @property
    def inputs(self) -> list[str]:
        return self.calls[0][1]

    @property
    def outputs(self) -> str:
        return self.calls[0][0]

    def args(self, train: bool) -> list[Arg]:
        out = [*self.batch, *self.keys]
        if train and self.dropout:
            out.append(Arg("dropout_rng", PRNG_KEY, Domain("prng_key")))
        return out


class Data:
    """The step's data arguments: one `batch` dict (as flax's examples pass it) or positional arrays."""

    def __init__(self, d: Draw) -> None:
        self.as_dict = d.chance(0.6)
        self.entries: dict[str, Leaf] = {}
        self.positional: list[Arg] = []

    def add(self, name: str, spec: TensorSpec, domain: Domain | None = None) -> str:
        leaf = Leaf(spec, domain or default_domain(spec))
        if self.as_dict:
            key = DICT_KEYS.get(name, name)
            self.entries[key] = leaf
            return f"batch['{key}']"
        self.positional.append(Arg(name, spec, domain))
        return name

    def args(self) -> list[Arg]:
        return [Arg("batch", dict(self.entries))] if self.as_dict else list(self.positional)


def _model_inputs(data: Data, model: LinenModel) -> tuple[list[str], list[Arg]]:
    exprs, keys = [], []
    for i in model.inputs:
        if i.spec.dtype == "uint32":  # a PRNG key the model samples with (the VAE's z_rng)
            keys.append(Arg(i.name, i.spec, i.domain))
            exprs.append(i.name)
        else:
            exprs.append(data.add(i.name, i.spec, i.domain))
    return exprs, keys


def _f32(model: LinenModel, name: str) -> str:
    return f"{name}.astype(jnp.float32)" if "bfloat16" in model.source else name


def classify(d: Draw, model: LinenModel, train: bool) -> LossCode:
    data = Data(d)
    inputs, keys = _model_inputs(data, model)
    n, classes = model.inputs[0].spec.shape[0], model.out_dim
    labels = data.add("labels" if not data.as_dict else "label", TensorSpec((n,), "int32"), Domain("index", 0, classes))
    lg = _f32(model, "logits")
    kind = d.weighted({"int": 4, "smooth": 1, "manual": 1, "sigmoid": 1 if classes <= 10 else 0})
    lines = {
        "int": [f"loss = optax.softmax_cross_entropy_with_integer_labels(logits={lg}, labels={labels}).mean()"],
        "smooth": [f"one_hot = jax.nn.one_hot({labels}, {classes})", f"loss = optax.softmax_cross_entropy({lg}, optax.smooth_labels(one_hot, {d.pick((0.1, 0.2))})).mean()"],
        "manual": [f"log_probs = jax.nn.log_softmax({lg}, axis=-1)", f"loss = -jnp.mean(jnp.take_along_axis(log_probs, {labels}[:, None], axis=-1))"],
        "sigmoid": [f"loss = optax.sigmoid_binary_cross_entropy({lg}, jax.nn.one_hot({labels}, {classes})).mean()"],
    }[kind]
    if train and d.chance(0.25):
        lines += ["weight_penalty_params = jax.tree_util.tree_leaves(params)",
                  "weight_l2 = sum(jnp.sum(x ** 2) for x in weight_penalty_params if x.ndim > 1)",
                  f"loss = loss + {d.pick((1e-4, 5e-4))} * 0.5 * weight_l2"]  # fmt: skip
    metrics = {"loss": "loss", "accuracy": f"jnp.mean(jnp.argmax(logits, -1) == {labels})"}
    if classes >= 10 and d.chance(0.5):
        metrics["top5_accuracy"] = f"jnp.mean(jnp.any(jax.lax.top_k(logits, 5)[1] == {labels}[:, None], axis=-1))"
    doc = {"int": "softmax cross-entropy with integer labels", "smooth": "cross-entropy with smoothed labels",
           "manual": "negative log-likelihood of the labels", "sigmoid": "sigmoid binary cross-entropy"}[kind]  # fmt: skip
    return LossCode(f"loss:{kind}", f"One step on a batch: {doc}.", [("logits", inputs)], lines, "logits", metrics, data.args(), keys, model.dropout)


def language_model(d: Draw, model: LinenModel, train: bool) -> LossCode:
    data = Data(d)
    tokens = model.inputs[0]
    vocab = model.out_dim
    if d.chance(0.5):  # lm1b style: inputs and targets (shifted by the input pipeline), padding id 0
        inputs = data.add("inputs", tokens.spec, tokens.domain)
        targets = data.add("targets", tokens.spec, tokens.domain)
        setup = [f"targets = {targets}", "weights = jnp.where(targets > 0, 1.0, 0.0)"]
        logits = "logits"
    else:
        inputs = data.add(tokens.name, tokens.spec, tokens.domain)
        setup = [f"targets = {inputs}[:, 1:]", "weights = jnp.ones_like(targets, dtype=jnp.float32)"]
        logits = "logits[:, :-1]"
    lines = [f"losses = optax.softmax_cross_entropy_with_integer_labels({logits}.astype(jnp.float32), targets)",
             "loss = jnp.sum(losses * weights) / jnp.maximum(jnp.sum(weights), 1.0)"]  # fmt: skip
    if d.chance(0.3):
        lines.append(f"loss = loss + {d.pick((1e-4, 1e-5))} * jnp.mean(jax.nn.logsumexp({logits}.astype(jnp.float32), axis=-1) ** 2)  # z-loss")
    metrics = {"loss": "loss", "perplexity": "jnp.exp(loss)", "accuracy": f"jnp.sum((jnp.argmax({logits}, -1) == targets) * weights) / jnp.maximum(jnp.sum(weights), 1.0)"}
    return LossCode("loss:next_token", f"Next-token cross-entropy over a {vocab}-token vocabulary, padding masked out.", [("logits", [inputs])], lines, "logits",
                    metrics, data.args(), setup=setup)  # fmt: skip


def regress(d: Draw, model: LinenModel, train: bool) -> LossCode:
    if model.family == "mlp" and d.chance(0.5):
        return contrastive(d, model)
    data = Data(d)
    inputs, keys = _model_inputs(data, model)
    targets = data.add("targets", TensorSpec((model.batch, model.out_dim), "float32"))
    kind = d.pick(("l2", "huber", "mse"))
    loss = {"l2": f"optax.l2_loss(preds, {targets}).mean()", "huber": f"optax.huber_loss(preds, {targets}, delta={d.pick((0.5, 1.0))}).mean()",
            "mse": f"jnp.mean(jnp.square(preds - {targets}))"}[kind]  # fmt: skip
    metrics = {"loss": "loss", "mae": f"jnp.mean(jnp.abs(preds - {targets}))"}
    return LossCode(f"loss:{kind}", f"Regression step with a {kind} loss.", [("preds", inputs)], [f"loss = {loss}"], "preds", metrics, data.args(), keys, model.dropout)


def contrastive(d: Draw, model: LinenModel) -> LossCode:
    data = Data(d)
    x = model.inputs[0]
    view1, view2 = data.add("view1", x.spec, x.domain), data.add("view2", x.spec, x.domain)
    temperature = d.pick((0.05, 0.07, 0.1, 0.5))
    lines = ["z1 = z1 / jnp.linalg.norm(z1, axis=-1, keepdims=True)", "z2 = z2 / jnp.linalg.norm(z2, axis=-1, keepdims=True)",
             f"logits = z1 @ z2.T / {temperature}", "labels = jnp.arange(logits.shape[0])",
             "loss = 0.5 * (optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()"
             " + optax.softmax_cross_entropy_with_integer_labels(logits.T, labels).mean())"]  # fmt: skip
    metrics = {"loss": "loss", "accuracy": "jnp.mean(jnp.argmax(logits, -1) == jnp.arange(logits.shape[0]))"}
    return LossCode("loss:contrastive", "A symmetric InfoNCE step: two views of each example are positives, the rest of the batch negatives.",
                    [("z1", [view1]), ("z2", [view2])], lines, "logits", metrics, data.args(), [], model.dropout)  # fmt: skip


def vae_loss(d: Draw, model: LinenModel, train: bool) -> LossCode:
    data = Data(d)
    inputs, keys = _model_inputs(data, model)
    x = inputs[0]
    kl = d.pick(("", "", f"{d.pick((0.5, 0.1))} * "))
    lines = [f"bce_loss = optax.sigmoid_binary_cross_entropy({_f32(model, 'recon_x')}, {x}).sum(axis=-1).mean()",
             "kld_loss = jnp.mean(-0.5 * jnp.sum(1 + logvar - jnp.square(mean) - jnp.exp(logvar), axis=-1))",
             f"loss = bce_loss + {kl}kld_loss"]  # fmt: skip
    return LossCode("loss:elbo", "One ELBO step: reconstruction BCE plus the KL divergence to the unit Gaussian prior.",
                    [("recon_x, mean, logvar", inputs)], lines, "(bce_loss, kld_loss)", {"loss": "loss", "bce": "bce_loss", "kld": "kld_loss"}, data.args(), keys)  # fmt: skip


def moe_loss(d: Draw, model: LinenModel, train: bool) -> LossCode:
    data = Data(d)
    inputs, keys = _model_inputs(data, model)
    targets = data.add("targets", model.inputs[0].spec)
    fn = d.pick(("optax.l2_loss", "optax.huber_loss", "optax.squared_error"))
    lines = [f"loss = {fn}({_f32(model, 'outputs')}, {targets}).mean() + {d.pick((0.01, 0.001))} * aux_loss"]
    return LossCode("loss:moe", "Regression through a mixture-of-experts block, plus its load-balancing loss.", [("outputs, aux_loss", inputs)], lines,
                    "aux_loss", {"loss": "loss", "load_balancing_loss": "aux_loss"}, data.args(), keys)  # fmt: skip


SCHEDULE = {
    "linear": ["betas = jnp.linspace({start}, {end}, {T}, dtype=jnp.float32)", "alphas_cumprod = jnp.cumprod(1.0 - betas)"],
    "cosine": ["steps = jnp.arange({T} + 1, dtype=jnp.float32) / {T}", "alphas_cumprod = jnp.cos((steps + 0.008) / 1.008 * jnp.pi / 2) ** 2",
               "alphas_cumprod = alphas_cumprod[1:] / alphas_cumprod[0]"],
}  # fmt: skip


def noise_prediction(d: Draw, model: LinenModel, train: bool) -> LossCode:
    """A DDPM training step: draw timesteps and noise, noise the images by the schedule, regress the noise."""
    data = Data(d)
    images = data.add("images", model.inputs[0].spec, Domain("real", -1, 1))
    steps = d.pick((1000, 1000, 4000))
    schedule = d.pick(tuple(SCHEDULE))
    setup = [*(line.format(start=1e-4, end=0.02, T=steps) for line in SCHEDULE[schedule]),
             "t_rng, noise_rng = jax.random.split(rng)",
             f"t = jax.random.randint(t_rng, ({images}.shape[0],), 0, {steps})",
             f"noise = jax.random.normal(noise_rng, {images}.shape)",
             "a = alphas_cumprod[t][:, None, None, None]",
             f"x_t = jnp.sqrt(a) * {images} + jnp.sqrt(1.0 - a) * noise", ""]  # fmt: skip
    lines = ["loss = jnp.mean((noise_pred - noise) ** 2)"]
    return LossCode("loss:ddpm", f"One DDPM step with a {schedule} noise schedule: predict the noise added at a random timestep.",
                    [("noise_pred", ["x_t", "t"])], lines, None, {"loss": "loss"}, data.args(), [Arg("rng", PRNG_KEY, Domain("prng_key"))], setup=setup)  # fmt: skip


LOSSES = {"classify": classify, "lm": language_model, "regress": regress, "vae": vae_loss, "moe": moe_loss, "noise": noise_prediction}


def loss_for(d: Draw, model: LinenModel, train: bool) -> LossCode:
    return LOSSES[model.output](d, model, train)
