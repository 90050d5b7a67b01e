"""The data contract as `datasets.Features`: one place, shared by the builder and publishing."""

from __future__ import annotations

import datasets

TENSOR = {"shape": [datasets.Value("int64")], "dtype": datasets.Value("string")}

FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),
        "category": datasets.Value("string"),
        "python": datasets.Value("string"),
        "entry_point": datasets.Value("string"),
        # `domain`: the values the program is defined on (builder/synth/domains.py; docs/usage.md)
        "args": [{"name": datasets.Value("string"), **TENSOR, "weak_type": datasets.Value("bool"), "domain": datasets.Value("string")}],
        "args_tree": datasets.Value("string"),
        "outputs": [dict(TENSOR)],
        "jaxpr": datasets.Value("string"),
        "stablehlo": datasets.Value("string"),
        "stablehlo_grad": datasets.Value("string"),
        "hlo_optimized": datasets.Value("string"),
        # XLA's cost analysis of the lowered module. It counts a loop's body once, whatever its trip
        # count (a lax.scan of length 1, 10 or 100 gives the same flops): scale by `loop_trip_counts`.
        "flops": datasets.Value("float64"),
        "transcendentals": datasets.Value("float64"),
        "bytes_accessed": datasets.Value("float64"),
        # Trip count of each `stablehlo.while` op of `stablehlo` (the forward module), in MLIR walk order, read
        # from the IR (builder/lowering/loops.py): how often its body runs, -1 where data decides; JAX's threefry
        # PRNG rounds left out. docs/columns.md says it in full.
        "loop_trip_counts": [datasets.Value("int64")],
        "ops": [datasets.Value("string")],
        # Identity of the IR (builder/irhash.py): content hash of the canonical `stablehlo` (names
        # renumbered), unique within a build; hash of its op sequence and types (near-duplicates).
        "canonical_hash": datasets.Value("string"),
        "structure_hash": datasets.Value("string"),
        # custom_call targets and backend attributes in `stablehlo` / `stablehlo_grad` ([] = portable).
        "platform_specific": [datasets.Value("string")],
        "seed": datasets.Value("int64"),
        "jax_version": datasets.Value("string"),
    }
)
