"""One row's findings in `validate`: what each check said, the verdicts drawn from them, and the time
each took. Plain data, so a result can be kept on disk (`journal`) and read back."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

OK, FAIL, SKIP = "ok", "fail", "skip"


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    detail: str = ""


@dataclass
class RowReport:
    id: str
    category: str
    seed: int
    input_seed: int
    findings: list[Finding] = field(default_factory=list)
    seconds: Counter[str] = field(default_factory=Counter)  # time spent per check (charged when a finding is added)
    _clock: float = field(default_factory=time.perf_counter, repr=False)

    def add(self, check: str, status: str, detail: str = "") -> None:
        self.findings.append(Finding(check, status, detail))
        now = time.perf_counter()
        self.seconds[check] += now - self._clock
        self._clock = now

    def resume(self) -> None:
        """Time the next check from now: the wait before it (for its turn in row order) is no check's."""
        self._clock = time.perf_counter()

    def status(self, check: str) -> str | None:
        states = [f.status for f in self.findings if f.check == check]
        return FAIL if FAIL in states else OK if OK in states else SKIP if states else None

    @property
    def failed(self) -> bool:
        return any(f.status == FAIL for f in self.findings)

    def _every(self, check: str, status: str) -> bool:
        states = [f.status for f in self.findings if f.check == check]
        return bool(states) and all(s == status for s in states)

    @property
    def executed(self) -> bool:
        """XLA ran every module of the row (a gradient run alone does not make the forward IR executed)."""
        return self._every("xla", OK)

    @property
    def compared(self) -> bool:
        """Another executor compared the forward IR's values: a difference found, the Python's values agreeing,
        or the interpreter agreeing on `stablehlo` (agreement on the gradient alone says nothing of the forward IR)."""
        forward = any(f.check == "interpreter" and f.status == OK and f.detail.split(":")[0] == "stablehlo" for f in self.findings)
        return any(self.status(c) == FAIL for c in ("interpreter", "python", "grad")) or self.status("python") == OK or forward

    @property
    def agreed(self) -> bool:
        return self.executed and self.compared and not any(self.status(c) == FAIL for c in ("xla", "interpreter", "python", "grad"))

    @property
    def verified(self) -> bool:
        """Proven: nothing failed, and the IR was executed and compared with another executor, or a
        fresh lowering by the row's own JAX version printed it byte for byte. Nothing else counts."""
        return not self.failed and (self.agreed or self.status("relower") == OK)

    @property
    def unverified(self) -> bool:
        """Neither failed nor proven: validate could not check it (the reasons are its skips)."""
        return not self.failed and not self.verified

    def why_unverified(self) -> str:
        skips = [f"{f.check}: {f.detail}" for f in self.findings if f.status == SKIP]
        return "; ".join(skips[:3]) if skips else "the IR was neither executed and compared nor relowered"
