"""parallel: shard_map programs over an abstract mesh lower on this one-device host with their
real collectives and replica groups, and rows ask XLA for no optimized HLO it cannot produce."""

from __future__ import annotations

import math
import re

import pytest
from op_checks import check_op, check_seeds, draws_only, lower, lowers_with_declared_specs, reaches

from builder.config import PairsConfig
from builder.pipeline.rows import make_row
from builder.synth.generator import generate
from builder.synth.ops.parallel import OPS

CATEGORY = "parallel"
REACHES = {
    "parallel.batch_stats": "stablehlo.all_reduce",
    "parallel.row_parallel": "stablehlo.all_reduce",
    "parallel.fsdp": "stablehlo.all_gather",
    "parallel.reduce_scatter": "stablehlo.reduce_scatter",
    "parallel.ring_shift": "stablehlo.collective_permute",
    "parallel.all_to_all": "stablehlo.all_to_all",
    "parallel.shard_index": "stablehlo.partition_id",
}


def _op(name):
    return next(o for o in OPS if o.name == name)


test_every_op_lowers_with_the_specs_it_declares = lowers_with_declared_specs(OPS)
test_ops_reach_their_collective = reaches(OPS, REACHES)
test_the_category_draws_only_its_own_ops = draws_only(CATEGORY, OPS)


def test_the_mesh_is_defined_once_and_the_ir_keeps_its_size():
    for seed in range(8):
        program = generate(CATEGORY, seed)
        source = program.render()
        assert source.count("mesh = AbstractMesh(") == 1
        sizes = re.search(r"mesh = AbstractMesh\(\(([\d, ]+)\)", source).group(1)
        devices = math.prod(int(n) for n in re.findall(r"\d+", sizes))
        text = lower(program).stablehlo
        # every collective's replica groups partition all the mesh's devices, not this host's one
        for groups in re.findall(r"replica_groups = dense<(\[\[.*?\]\])>", text):
            assert sorted(int(i) for i in re.findall(r"\d+", groups)) == list(range(devices)), (seed, groups, devices)


def test_rows_skip_optimized_hlo_but_keep_everything_else():
    config = PairsConfig(name="t", categories=((CATEGORY, 1.0),), train_size=1, hlo_optimized=True, max_statements=6)
    row = make_row(config, "train", 0, CATEGORY, 3)
    assert row["hlo_optimized"] is None
    assert row["stablehlo"] and row["flops"] >= 0
    assert any(op.startswith("stablehlo.all_") or op in ("stablehlo.collective_permute", "stablehlo.reduce_scatter",
                                                          "stablehlo.partition_id") for op in row["ops"]), row["python"]


def test_sharded_softmax_has_a_gradient():
    """`lax.pmax` has no JVP rule: the softmax takes its max of stopped gradients."""
    check_op(_op("parallel.sharded_softmax"), range(3))


@pytest.mark.slow
def test_a_thousand_programs_lower():
    drawn = check_seeds(CATEGORY, range(1000))
    assert set(drawn) == {o.name for o in OPS}
