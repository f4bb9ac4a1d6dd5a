"""The person-classifier configuration: its file format and validation.

The command line (``vitgates person-config``) is :mod:`vitgates.commands.person`.

A config is a JSON object (``*.json``); every field is checked on load and a malformed file
is refused with one line naming the file and the field::

    {
      "format": "vitgates-person-classifier",
      "version": 1,
      "feature_dim": 768,          # width of the pooled feature vector
      "scale": 0.0213,             # real value of one INT8 step of the features
      "pos_dims": [20 indices],    # person-positive dimensions, 0 <= d < feature_dim
      "neg_dims": [20 indices],    # person-negative dimensions, all 40 distinct
      "T": 37,                     # sum-difference form: person iff s > T
      "dim_thresholds": [40 ints], # popcount form, INT8: pos_dims then neg_dims
      "K": 27,                     # popcount form: person iff popcount >= K
      "source": {...}              # optional provenance (dataset, float threshold, F1, ...)
    }

The arithmetic is in docs/arithmetic.md and the integer models in
:mod:`vitgates.golden.person`.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import VitgatesError
from ..fileio import atomic_write_json
from .quant import INT8_MAX, INT8_MIN

__all__ = [
    "FORMAT",
    "N_POS",
    "N_NEG",
    "PersonConfig",
    "PersonConfigError",
    "load_person_config",
    "save_person_config",
]

FORMAT = "vitgates-person-classifier"
VERSION = 1
N_POS = 20
N_NEG = 20

_REQUIRED = ("format", "version", "feature_dim", "scale", "pos_dims", "neg_dims", "T",
             "dim_thresholds", "K")
_OPTIONAL = ("source",)


class PersonConfigError(VitgatesError):
    """A person-classifier config that cannot be used; the message names the field."""


@dataclass(frozen=True)
class PersonConfig:
    """A validated person-classifier configuration (see the module docstring for fields).

    ``dims`` is ``pos_dims + neg_dims``: the order in which the hardware receives the 40
    selected features. Construct through :meth:`from_dict` or :func:`load_person_config`
    to get validation; the constructor validates too.
    """

    pos_dims: tuple[int, ...]
    neg_dims: tuple[int, ...]
    scale: float
    T: int
    dim_thresholds: tuple[int, ...]
    K: int
    feature_dim: int = 768
    source: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        _validate(self.to_dict(), where="person config")

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(self.pos_dims) + tuple(self.neg_dims)

    @property
    def n_dims(self) -> int:
        return len(self.pos_dims) + len(self.neg_dims)

    def to_dict(self) -> dict:
        d = {
            "format": FORMAT,
            "version": VERSION,
            "feature_dim": self.feature_dim,
            "scale": self.scale,
            "pos_dims": list(self.pos_dims),
            "neg_dims": list(self.neg_dims),
            "T": self.T,
            "dim_thresholds": list(self.dim_thresholds),
            "K": self.K,
        }
        if self.source:
            d["source"] = self.source
        return d

    @classmethod
    def from_dict(cls, d: dict, *, where: str = "person config") -> "PersonConfig":
        _validate(d, where=where)
        return cls(
            pos_dims=tuple(d["pos_dims"]),
            neg_dims=tuple(d["neg_dims"]),
            scale=float(d["scale"]),
            T=int(d["T"]),
            dim_thresholds=tuple(d["dim_thresholds"]),
            K=int(d["K"]),
            feature_dim=int(d["feature_dim"]),
            source=dict(d.get("source", {})),
        )


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _validate(d, *, where: str) -> None:
    def fail(msg):
        raise PersonConfigError(f"{where}: {msg}")

    if not isinstance(d, dict):
        fail(f"expected a JSON object, got {type(d).__name__}")
    missing = [k for k in _REQUIRED if k not in d]
    if missing:
        fail(f"missing field {', '.join(repr(k) for k in missing)}")
    unknown = sorted(set(d) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        fail(f"unknown field {', '.join(repr(k) for k in unknown)}")
    if d["format"] != FORMAT:
        fail(f"'format' must be {FORMAT!r}, got {d['format']!r}")
    if d["version"] != VERSION:
        fail(f"'version' {d['version']!r} is not supported (this vitgates reads {VERSION})")
    fd = d["feature_dim"]
    if not _is_int(fd) or fd < 1:
        fail(f"'feature_dim' must be a positive integer, got {fd!r}")
    s = d["scale"]
    if not isinstance(s, (int, float)) or isinstance(s, bool) or not math.isfinite(s) or s <= 0:
        fail(f"'scale' must be a finite positive number, got {s!r}")
    for key, n in (("pos_dims", N_POS), ("neg_dims", N_NEG)):
        v = d[key]
        if not isinstance(v, (list, tuple)):
            fail(f"{key!r} must be a list of {n} dimension indices")
        if len(v) != n:
            fail(f"{key!r} must list {n} dimensions, got {len(v)}")
        for i, x in enumerate(v):
            if not _is_int(x):
                fail(f"{key}[{i}] must be an integer, got {x!r}")
            if not 0 <= x < fd:
                fail(f"{key}[{i}] = {x} is outside 0..{fd - 1}")
    dims = list(d["pos_dims"]) + list(d["neg_dims"])
    if len(set(dims)) != len(dims):
        dup = sorted({x for x in dims if dims.count(x) > 1})
        fail(f"dimensions must be distinct, repeated: {dup}")
    T = d["T"]
    if not _is_int(T):
        fail(f"'T' must be an integer, got {T!r}")
    bound = (N_POS + N_NEG) * 128
    if not -bound <= T <= bound:
        fail(f"'T' = {T} is outside the reachable range [-{bound}, {bound}]")
    th = d["dim_thresholds"]
    if not isinstance(th, (list, tuple)) or len(th) != N_POS + N_NEG:
        got = len(th) if isinstance(th, (list, tuple)) else type(th).__name__
        fail(f"'dim_thresholds' must list {N_POS + N_NEG} INT8 thresholds, got {got}")
    for i, x in enumerate(th):
        if not _is_int(x):
            fail(f"dim_thresholds[{i}] must be an integer, got {x!r}")
        if not INT8_MIN <= x <= INT8_MAX:
            fail(f"dim_thresholds[{i}] = {x} is outside INT8 [{INT8_MIN}, {INT8_MAX}]")
    K = d["K"]
    if not _is_int(K) or not 0 <= K <= N_POS + N_NEG:
        fail(f"'K' must be an integer in [0, {N_POS + N_NEG}], got {K!r}")
    if "source" in d and not isinstance(d["source"], dict):
        fail("'source' must be a JSON object")


def load_person_config(path) -> PersonConfig:
    """Read and validate a config file; raise :class:`PersonConfigError` with one line."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PersonConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PersonConfigError(f"{path}: cannot read ({e})") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise PersonConfigError(
            f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"
        ) from None
    return PersonConfig.from_dict(d, where=str(path))


def save_person_config(cfg: PersonConfig, path) -> Path:
    """Write ``cfg`` as JSON atomically (a temporary file renamed into place)."""
    return atomic_write_json(path, cfg.to_dict())
