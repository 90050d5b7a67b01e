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
        "flops": datasets.Value("float64"),
        "transcendentals": datasets.Value("float64"),
        "bytes_accessed": datasets.Value("float64"),
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
