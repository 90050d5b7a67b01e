"""Python source + input specs -> IR texts (jaxpr, StableHLO, gradient, optimized HLO), XLA cost
figures, canonical and structure hashes, portability marks."""
