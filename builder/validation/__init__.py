"""rows -> verdicts: parse the IR back, run it with XLA and the StableHLO reference interpreter, run
the Python with JAX, compare, localize disagreements. Never imports row production or `datasets`' builder."""
