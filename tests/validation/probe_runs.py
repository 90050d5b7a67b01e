"""How the localization tests run a module: XLA as written (no algebraic simplifier, as `localize` runs it),
the reference interpreter, and when two runs' outputs agree (the validator's tolerances).

Imported by file name, like `stablehlo_modules.py`.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from builder.validation.compare import INDEPENDENT, compare_outputs
from builder.validation.interpreter import Interpreter
from builder.validation.runners import LITERAL, run_xla


def xla(text, inputs):
    return run_xla(text, inputs, LITERAL)


def agree(reference, got) -> bool:
    return not compare_outputs(got, reference, INDEPENDENT, [], independent=True)


@contextmanager
def interpreter_runs() -> Iterator:
    """The interpreter as `localize` takes it: (text, inputs) -> outputs."""
    with Interpreter(timeout=60) as it:
        yield lambda text, inputs: it.run(text, list(inputs)).outputs
