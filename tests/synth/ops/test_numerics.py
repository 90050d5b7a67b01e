"""numerics: every op lowers with the specs it declares, and the category reaches the
StableHLO / CHLO ops no other category does (sort, fft, bit counts, bitcasts, special functions)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
from jax import lax
from op_checks import check_seeds, lowers_with_declared_specs, reaches, single_op_program

from builder.lowering.extractor import distinct_ops
from builder.synth.ops.base import fill
from builder.synth.ops.numerics import INVERSE_TRIG, OPS, SPECIAL, SPECIAL_F32

CATEGORY = "numerics"
REACHES = {
    "jnp.sort": "stablehlo.sort",
    "lax.top_k": "chlo.top_k",
    "jnp.fft": "stablehlo.fft",
    "bit_count": ("stablehlo.popcnt", "stablehlo.count_leading_zeros"),
    "shift": ("stablehlo.shift_left", "stablehlo.shift_right_logical", "stablehlo.shift_right_arithmetic"),
    "float_bits": "stablehlo.bitcast_convert",
    "lax.reduce_precision": "stablehlo.reduce_precision",
    "jnp.nextafter": "chlo.next_after",
    "make_complex": ("stablehlo.complex", "stablehlo.add", "stablehlo.multiply"),
    "complex_parts": ("stablehlo.real", "stablehlo.imag", "stablehlo.abs", "stablehlo.atan2", "stablehlo.multiply", "stablehlo.exponential", "stablehlo.sqrt", "stablehlo.log_plus_one", "stablehlo.negate", "stablehlo.transpose"),
    "special_function": ("chlo.erf", "chlo.erfc", "chlo.erf_inv", "chlo.lgamma", "chlo.digamma", "chlo.bessel_i1e", "chlo.polygamma", "chlo.zeta", "stablehlo.logistic", "stablehlo.exponential", "stablehlo.log_plus_one", "stablehlo.exponential_minus_one", "stablehlo.multiply", "stablehlo.sine"),
    "inverse_trig": ("chlo.asin", "chlo.acos", "chlo.atanh", "chlo.acosh", "stablehlo.tan"),
    "cumulative": "stablehlo.reduce_window",
}


test_every_op_lowers_with_the_specs_it_declares = lowers_with_declared_specs(OPS)
test_ops_reach_their_stablehlo_ops = reaches(OPS, REACHES, seeds=range(1, 2))


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_every_special_function_form_lowers_and_together_they_reach_the_chlo_set(dtype):
    """Form by form, so a function that refuses a dtype is caught (regression: `ndtr` on bfloat16)."""
    forms = SPECIAL + INVERSE_TRIG + (SPECIAL_F32 if dtype == "float32" else ())
    seen: set[str] = set()
    for form in forms:
        fn = eval("lambda x: " + fill(form, ["x"]), {"jax": jax, "jnp": jnp, "lax": lax})
        text = jax.jit(fn).lower(jax.ShapeDtypeStruct((3, 4), jnp.dtype(dtype))).as_text()
        assert jax.eval_shape(fn, jax.ShapeDtypeStruct((3, 4), jnp.dtype(dtype))).dtype == jnp.dtype(dtype), form
        seen |= {o for o in distinct_ops(text) if o.startswith("chlo.")}
    assert {"chlo.erf_inv", "chlo.lgamma", "chlo.digamma", "chlo.bessel_i1e", "chlo.asin", "chlo.acos", "chlo.atanh", "chlo.acosh"} <= seen
    if dtype == "float32":
        assert {"chlo.polygamma", "chlo.zeta"} <= seen



def test_domains_are_respected():
    """Functions with a restricted domain get their input brought into it in the source."""
    op = next(o for o in OPS if o.name == "inverse_trig")
    for seed in range(6):
        for line in single_op_program(op, seed).render().splitlines():
            if "jnp.arcsin(" in line or "jnp.arccos(" in line or "jnp.arctanh(" in line:
                assert "jnp.clip(" in line, line


@pytest.mark.slow
def test_a_thousand_programs_lower():
    drawn = check_seeds(CATEGORY, range(1000))
    assert set(drawn) == {o.name for o in OPS}
