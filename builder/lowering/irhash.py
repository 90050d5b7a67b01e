"""Canonical forms of a StableHLO text, their hashes, and its platform-specific pieces.

Two rows are the same program in another guise when their IR differs only in names:
the module name (`@jit_<entry point>`), the names of private functions (taken from
Python function names), SSA value and block names, and the `jax.result_info` /
`jax.arg_info` labels (taken from Python variable names and pytree keys). The
*canonical form* renames all of those in order of first appearance; its hash is
the row's content identity. The *structure* keeps only the op sequence and the
types, so programs that differ in constants, attributes or data flow but not in
shape share it: that is what a structurally-unseen split keeps apart.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_MODULE = re.compile(r"^module @[\w$.\-]+", re.MULTILINE)
_FUNC_DEF = re.compile(r"func\.func (?:public |private |nested )?@([\w$.\-]+)\(")
_FUNC_START = re.compile(r"(?=^\s*func\.func )", re.MULTILINE)
_SSA = re.compile(r"%[\w$.\-]+")
_BLOCK = re.compile(r"\^[\w$.\-]+")
_LABELS = re.compile(r'\s*jax\.(?:result_info|arg_info) = "(?:[^"\\]|\\.)*",?')
_EMPTY_ATTRS = re.compile(r" \{\s*\}")
# One op per line: `%x = op ...`, `%x:2 = "op"(...)`, `op ...`, with the type after the last ` : `.
_OP_LINE = re.compile(r'^\s*(?:%[^=]*=\s*)?"?([a-z_]+\.[a-z_0-9.]+|return|call|func\.func)\b')
_REGION_END = re.compile(r"^\s*}\)?.* : ")
_ARG_NAMES = re.compile(r"%[\w$.\-]+: ")
_CONSTANT_BODY = re.compile(r"dense<[^>]*>|dense_resource<[^>]*>")
_CUSTOM_CALL = re.compile(r"stablehlo\.custom_call @([\w$.\-]+)|call_target_name = \"([^\"]+)\"")
# Attributes that tie a module to one backend or to XLA's own pipeline.
_BACKEND_ATTRS = ("mhlo.backend_config", "backend_config", "mhlo.frontend_attributes", "xla_", "mhlo.sharding",
                  "sdy.sharding", "mhlo.layout_mode", "mhlo.memory_kind", "api_version")


def canonical(text: str) -> str:
    """`text` with module, private-function, SSA and block names renumbered and Python labels dropped."""
    text = _MODULE.sub("module @m", text)
    functions = {name: f"@fn{i}" for i, name in enumerate(dict.fromkeys(_FUNC_DEF.findall(text))) if name != "main"}
    if functions:
        pattern = re.compile(r"@(" + "|".join(re.escape(n) for n in sorted(functions, key=len, reverse=True)) + r")\b(?=[(\s,]|$)")
        text = pattern.sub(lambda m: functions[m.group(1)], text)
    # SSA and block names are scoped to a function: renumber each function on its own.
    pieces = _FUNC_START.split(text)
    text = "".join(_renumber(_BLOCK, "^b", _renumber(_SSA, "%v", piece)) for piece in pieces)
    text = _LABELS.sub("", text)
    return _EMPTY_ATTRS.sub("", text)


def _renumber(pattern: re.Pattern[str], prefix: str, text: str) -> str:
    """Rename every match in order of first appearance (a bijection, so renamed copies agree)."""
    names: dict[str, str] = {}

    def rename(m: re.Match[str]) -> str:
        return names.setdefault(m.group(0), f"{prefix}{len(names)}")

    return pattern.sub(rename, text)


def structure(text: str) -> str:
    """The op sequence and types of `text`: one line per op, `<op> : <types>`; names, constants,
    attributes and operands dropped."""
    lines = []
    for line in canonical(text).splitlines():
        m = _OP_LINE.match(line)
        if m:
            op = m.group(1)
        elif _REGION_END.match(line):
            op = "}"  # the types of an op with regions (case, while, reduce bodies) follow its last region
        else:
            continue
        body = _CONSTANT_BODY.sub("", line)
        if op == "func.func":
            types = _ARG_NAMES.sub("", body[body.find("(") :].rsplit("{", 1)[0]).strip()
        else:
            types = body.rsplit(" : ", 1)[1].strip() if " : " in body else ""
        lines.append(f"{op} : {types}")
    return "\n".join(lines)


def digest(text: str) -> str:
    """A short, stable content hash (hex)."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def canonical_hash(text: str) -> str:
    return digest(canonical(text))


def structure_hash(text: str) -> str:
    return digest(structure(text))


@dataclass(frozen=True)
class Portability:
    """What ties a module to one platform: custom_call targets and backend-specific attributes."""

    custom_calls: tuple[str, ...]
    backend_attributes: tuple[str, ...]

    @property
    def portable(self) -> bool:
        return not self.custom_calls and not self.backend_attributes

    @property
    def pieces(self) -> list[str]:
        """Every platform-specific piece, as `custom_call:<target>` / `attribute:<name>`, sorted."""
        return [f"custom_call:{t}" for t in self.custom_calls] + [f"attribute:{a}" for a in self.backend_attributes]


_ATTR_NAME = re.compile(r"([a-z_][\w.]*) = ")


def custom_call_targets(text: str) -> list[str]:
    """The targets of every custom_call in an IR text (generic and pretty forms), sorted."""
    return sorted({a or b for a, b in _CUSTOM_CALL.findall(text)})


def portability(text: str) -> Portability:
    """The platform-specific pieces of a StableHLO module text."""
    targets = custom_call_targets(text)
    attrs = sorted({name for name in _ATTR_NAME.findall(text) if name.startswith(_BACKEND_ATTRS)} - {"api_version"})
    return Portability(tuple(targets), tuple(attrs))
