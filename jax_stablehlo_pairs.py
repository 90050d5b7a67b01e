"""jax-stablehlo-pairs: synthesized JAX programs paired with the StableHLO (and jaxpr,
gradient IR, optimized HLO, XLA cost figures) that JAX lowers them to.

This loading script is thin on purpose: the builder lives in the installed package
`builder` (`pip install -e .`), which the CLI and the tests share.
"""

from builder.hf_builder import PairsBuilder


class JaxStablehloPairs(PairsBuilder):
    """See `builder.hf_builder.PairsBuilder`; configs come from `configs/*.yaml`."""
