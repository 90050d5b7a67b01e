"""An MLIR context that parses what JAX lowers: the one way lowering and validation read IR text as ops."""

from __future__ import annotations

import threading
from typing import Any

_local = threading.local()


def make_context() -> Any:
    """An MLIR context with every dialect a JAX module uses (func, stablehlo, chlo, sdy)."""
    from jaxlib.mlir import ir  # lazy: jaxlib's MLIR bindings are heavy and `synth` must not pull them in
    from jaxlib.mlir._mlir_libs import _jax_mlir_ext
    from jaxlib.mlir.dialects import chlo, sdy, stablehlo

    registry = ir.DialectRegistry()
    _jax_mlir_ext.register_dialects(registry)
    ctx = ir.Context()
    ctx.append_dialect_registry(registry)
    ctx.load_all_available_dialects()
    stablehlo.register_dialect(ctx)
    chlo.register_dialect(ctx)
    sdy.register_dialect(ctx)
    stablehlo.register_stablehlo_passes()
    return ctx


def mlir_context() -> Any:
    """This thread's MLIR context (`validate --num-proc` parses in several threads; a context is not shared)."""
    if not hasattr(_local, "context"):
        _local.context = make_context()
    return _local.context
