"""The children's answers as `.npz` without pickles: bfloat16 and float8 arrays come back as they went,
in validate's sandbox (outputs and gradients) and in evaluate's containment alike."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from builder.evaluation import containment
from builder.validation import sandbox
from builder.validation.npz_arrays import decode, encode
from builder.validation.runners import PythonSide

ARRAYS = [
    np.arange(6, dtype=np.float32).reshape(2, 3),
    np.array([1.5, -2.25, 3.0], dtype=ml_dtypes.bfloat16),
    np.array([[0.5, 1.0]], dtype=ml_dtypes.float8_e4m3fn),
    np.array(7, dtype=np.int8),
    np.array([1 + 2j], dtype=np.complex64),
]


def same(got: list[np.ndarray], want: list[np.ndarray]) -> None:
    assert [a.dtype for a in got] == [a.dtype for a in want]
    for a, b in zip(got, want, strict=True):
        assert a.shape == b.shape and np.array_equal(a.view(np.uint8), b.view(np.uint8))


def test_encode_decode_round_trip_with_a_prefix(tmp_path):
    stored, dtypes = encode(ARRAYS, "grad")
    assert set(stored) == {f"grad{i}" for i in range(len(ARRAYS))} and "bfloat16" in dtypes
    np.savez(tmp_path / "a.npz", **stored)
    with np.load(tmp_path / "a.npz", allow_pickle=False) as data:
        same(decode(data, dtypes, "grad"), ARRAYS)


def test_an_unknown_dtype_name_is_refused(tmp_path):
    stored, _ = encode(ARRAYS[:1])
    np.savez(tmp_path / "a.npz", **stored)
    with np.load(tmp_path / "a.npz", allow_pickle=False) as data, pytest.raises(ValueError, match="neither numpy's nor ml_dtypes'"):
        decode(data, ["bfloat17"])


@pytest.mark.parametrize("grads", [None, ARRAYS[::-1]])
def test_validate_sandbox_answer_keeps_ml_dtypes(grads, tmp_path):
    side = PythonSide(ARRAYS, [f"[{i}]" for i in range(len(ARRAYS))], grads, "module @m {}", None, "{ lambda ; }", None)
    sandbox._save(side, tmp_path / sandbox.RESULT)
    back = sandbox._load(tmp_path / sandbox.RESULT)
    same(back.outputs, ARRAYS)
    if grads is None:
        assert back.grads is None
    else:
        same(back.grads, grads)
    assert (back.paths, back.stablehlo, back.jaxpr, back.error) == (side.paths, side.stablehlo, side.jaxpr, None)


def test_evaluate_containment_answer_keeps_ml_dtypes(tmp_path):
    side = PythonSide(ARRAYS, [f"[{i}]" for i in range(len(ARRAYS))], None, "module @m {}", None, None, None)
    containment._save(side, tmp_path / "answer.npz")
    same(containment._load(tmp_path / "answer.npz").outputs, ARRAYS)
