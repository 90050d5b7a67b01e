"""jax-stablehlo-pairs: synthesize JAX programs and pair them with the IR JAX lowers them to."""

__version__ = "0.1.0"
