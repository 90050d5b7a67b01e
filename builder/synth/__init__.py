"""seed -> Program -> Python source: dtype families and specs, the typed SSA, the generator and the op
catalogue (`ops/`). Imports no lowering and no `datasets`: drawing a program never starts JAX."""
