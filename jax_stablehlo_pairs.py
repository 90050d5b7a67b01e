"""jax-stablehlo-pairs: synthesized JAX programs paired with the StableHLO (and jaxpr,
gradient IR, optimized HLO, XLA cost figures) that JAX lowers them to.

This loading script is thin on purpose: the builder lives in the installed package
`builder` (`pip install -e .`), which the CLI and the tests share.
"""

# The comment after the import is read by datasets' import scanner: without the package it says
# "Please install it using 'pip install <the comment>'" (otherwise `pip install builder`, another project).
from builder.hf_builder import PairsBuilder  # From: -e . (run in the jax-stablehlo-pairs checkout that holds this script)


class JaxStablehloPairs(PairsBuilder):
    """See `builder.hf_builder.PairsBuilder`; configs come from `configs/*.yaml`."""
