"""The on-disk feature cache: safetensors shards plus one JSON manifest. numpy only.

A cache is a folder::

    manifest.json            what is in the cache, and the list of finished shards
    shard-00000.safetensors  arrays of the images in the shard, first axis = image
    shard-00001.safetensors
    ...

The manifest (``"format": "vitgates-feature-cache"``, version 1) records the backbone, the
input resolution, whether the data are synthetic, a free-form ``dataset`` description,
and for every array its per-image shape and dtype, e.g. ``pooled`` [768] float32, ``grid``
[40, 40, 768] float16, ``image_ids`` [] int64, ``person`` [] uint8, ``letterbox_scale`` []
float32, ``orig_hw`` [2] int32. Each shard entry lists its file, image count, image ids,
byte size and SHA-256.

Writing is atomic: a shard is written under a temporary name and renamed, then the manifest
is rewritten the same way, so an interrupted run leaves every finished shard readable and
listed; running the extraction again resumes after the last finished shard. A manifest or
shard that does not match what it should be is refused with one line
(:class:`CacheError`), and nothing already cached is modified or deleted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save

from ..errors import VitgatesError
from ..fileio import atomic_write_bytes, atomic_write_json

__all__ = [
    "FORMAT",
    "MANIFEST",
    "CacheError",
    "FeatureCache",
    "atomic_write_bytes",
    "atomic_write_json",
]

FORMAT = "vitgates-feature-cache"
VERSION = 1
MANIFEST = "manifest.json"
_DTYPES = {"float16", "float32", "int64", "int32", "uint8", "int8", "bool"}
_REQUIRED = ("format", "version", "backbone", "resolution", "synthetic", "dataset", "arrays",
             "shards")


class CacheError(VitgatesError):
    """A feature cache that cannot be used as it is; the message names the file."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class FeatureCache:
    """A feature cache folder; open with :meth:`open`, create or resume with :meth:`create`.

    ``manifest`` is the parsed manifest dict. Reading never modifies the folder.
    """

    path: Path
    manifest: dict

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path) -> FeatureCache:
        """Open an existing cache; refuse a missing or corrupt manifest with one line."""
        path = Path(path)
        mf = path / MANIFEST
        if not mf.is_file():
            raise CacheError(f"{path}: not a feature cache (no {MANIFEST})")
        try:
            manifest = json.loads(mf.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CacheError(
                f"{mf}: corrupt manifest ({type(e).__name__}); the shards were left untouched"
            ) from None
        _validate_manifest(manifest, mf)
        return cls(path, manifest)

    @classmethod
    def create(cls, path, *, backbone: str, resolution: int, arrays: dict,
               dataset: str, synthetic: bool, extra: dict | None = None) -> FeatureCache:
        """Create an empty cache, or reopen one with the same description to resume.

        ``arrays``: name -> ``{"shape": [per-image shape], "dtype": str}``; it must include
        ``image_ids`` ([] int64). An existing cache whose backbone, resolution, arrays or
        dataset differ is refused rather than mixed.
        """
        path = Path(path)
        if "image_ids" not in arrays:
            raise ValueError("arrays must include 'image_ids'")
        want = {
            "format": FORMAT,
            "version": VERSION,
            "backbone": backbone,
            "resolution": int(resolution),
            "synthetic": bool(synthetic),
            "dataset": dataset,
            "arrays": {k: {"shape": [int(s) for s in v["shape"]], "dtype": str(v["dtype"])}
                       for k, v in arrays.items()},
            "extra": dict(extra or {}),
            "shards": [],
        }
        if (path / MANIFEST).exists():
            cache = cls.open(path)
            for key in ("backbone", "resolution", "synthetic", "dataset", "arrays"):
                if cache.manifest[key] != want[key]:
                    raise CacheError(
                        f"{path}: holds a different cache ({key} is "
                        f"{cache.manifest[key]!r}, this run wants {want[key]!r}); "
                        "choose another folder"
                    )
            return cache
        _validate_manifest(want, path / MANIFEST)
        atomic_write_json(path / MANIFEST, want)
        return cls(path, want)

    # -- description -----------------------------------------------------------------------

    @property
    def arrays(self) -> dict:
        return self.manifest["arrays"]

    @property
    def shards(self) -> list[dict]:
        return self.manifest["shards"]

    def __len__(self) -> int:
        return sum(s["n"] for s in self.shards)

    @property
    def image_ids(self) -> np.ndarray:
        """[n] int64: the ids of all cached images, in cache order."""
        ids = [i for s in self.shards for i in s["image_ids"]]
        return np.asarray(ids, np.int64)

    def describe(self) -> str:
        """One line: images, shards, arrays, backbone, resolution, synthetic or not."""
        m = self.manifest
        arr = ", ".join(f"{k} {v['shape']} {v['dtype']}" for k, v in m["arrays"].items()
                        if k != "image_ids")
        tag = " (synthetic)" if m["synthetic"] and "synthetic" not in m["dataset"] else ""
        return (f"{len(self)} images in {len(self.shards)} shards; {arr}; backbone "
                f"{m['backbone']} at {m['resolution']} px; dataset {m['dataset']}{tag}")

    # -- writing ---------------------------------------------------------------------------

    def append_shard(self, data: dict[str, np.ndarray]) -> dict:
        """Write one shard atomically and list it in the manifest; return its entry.

        ``data`` maps every array named in the manifest to [n, *shape] of its dtype.
        """
        n = None
        out = {}
        for name, spec in self.arrays.items():
            if name not in data:
                raise ValueError(f"shard is missing array {name!r}")
            a = np.asarray(data[name])
            if spec["dtype"] == "bool":
                a = a.astype(np.uint8)
            elif a.dtype != np.dtype(spec["dtype"]):
                a = a.astype(spec["dtype"])
            if list(a.shape[1:]) != spec["shape"]:
                raise ValueError(f"array {name!r} has shape {list(a.shape)}, expected "
                                 f"[n, *{spec['shape']}]")
            if n is None:
                n = a.shape[0]
            elif a.shape[0] != n:
                raise ValueError("arrays of a shard differ in length")
            out[name] = np.ascontiguousarray(a)
        ids = out["image_ids"].tolist()
        dup = set(ids) & set(self.image_ids.tolist())
        if dup:
            raise ValueError(f"images already cached: {sorted(dup)[:5]}")
        name = f"shard-{len(self.shards):05d}.safetensors"
        blob = save(out, metadata={"format": FORMAT, "shard": name})
        atomic_write_bytes(self.path / name, blob)
        entry = {"file": name, "n": int(n), "image_ids": [int(i) for i in ids],
                 "bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
        manifest = dict(self.manifest, shards=[*self.shards, entry])
        atomic_write_json(self.path / MANIFEST, manifest)
        self.manifest = manifest
        return entry

    # -- reading ---------------------------------------------------------------------------

    def _check_shard(self, entry: dict, verify: bool) -> Path:
        p = self.path / entry["file"]
        if not p.is_file():
            raise CacheError(f"{p}: shard listed in the manifest is missing")
        size = p.stat().st_size
        if size != entry["bytes"]:
            raise CacheError(f"{p}: corrupt shard ({size} bytes, the manifest says "
                             f"{entry['bytes']}); re-extract it or restore it")
        if verify and _sha256(p) != entry["sha256"]:
            raise CacheError(f"{p}: corrupt shard (checksum mismatch); re-extract it or "
                             "restore it")
        return p

    def read_shard(self, index: int, names: Sequence[str] | None = None, *,
                   verify: bool = False) -> dict[str, np.ndarray]:
        """The arrays of shard ``index`` (all, or only ``names``) as numpy arrays.

        The file size is always checked against the manifest, and with ``verify`` its
        SHA-256 too; a shard that fails is refused with one line.
        """
        entry = self.shards[index]
        p = self._check_shard(entry, verify)
        names = list(self.arrays) if names is None else list(names)
        unknown = [k for k in names if k not in self.arrays]
        if unknown:
            raise CacheError(f"{self.path}: no array {unknown[0]!r} in this cache "
                             f"(it has {', '.join(self.arrays)})")
        try:
            with safe_open(str(p), framework="numpy") as f:
                out = {k: f.get_tensor(k) for k in names}
        except Exception as e:
            raise CacheError(f"{p}: corrupt shard ({type(e).__name__})") from None
        for k, a in out.items():
            spec = self.arrays[k]
            want = [entry["n"], *spec["shape"]]
            dt = "uint8" if spec["dtype"] == "bool" else spec["dtype"]
            if list(a.shape) != want or a.dtype != np.dtype(dt):
                raise CacheError(f"{p}: corrupt shard (array {k!r} is {list(a.shape)} "
                                 f"{a.dtype}, the manifest says {want} {dt})")
            if spec["dtype"] == "bool":
                out[k] = a.astype(bool)
        if "image_ids" in out and out["image_ids"].tolist() != entry["image_ids"]:
            raise CacheError(f"{p}: corrupt shard (image ids differ from the manifest)")
        return out

    def iter_shards(self, names: Sequence[str] | None = None, *,
                    verify: bool = False) -> Iterator[dict[str, np.ndarray]]:
        """Stream the shards in order, one at a time (see :meth:`read_shard`)."""
        for i in range(len(self.shards)):
            yield self.read_shard(i, names, verify=verify)

    def iter_batches(self, batch_size: int, names: Sequence[str] | None = None, *,
                     verify: bool = False) -> Iterator[dict[str, np.ndarray]]:
        """Stream batches of ``batch_size`` images (the last may be shorter) across shards,
        holding at most one shard plus one batch in memory."""
        carry: dict[str, np.ndarray] | None = None
        for shard in self.iter_shards(names, verify=verify):
            if carry is not None:
                shard = {k: np.concatenate([carry[k], shard[k]]) for k in shard}
                carry = None
            n = len(next(iter(shard.values())))
            stop = n - n % batch_size
            for i in range(0, stop, batch_size):
                yield {k: v[i : i + batch_size] for k, v in shard.items()}
            if stop < n:
                carry = {k: v[stop:] for k, v in shard.items()}
        if carry is not None:
            yield carry

    def load(self, name: str, *, verify: bool = False) -> np.ndarray:
        """One array of every image, concatenated (for small arrays such as ``pooled``)."""
        parts = [s[name] for s in self.iter_shards([name], verify=verify)]
        if not parts:
            spec = self.arrays[name]
            return np.zeros([0, *spec["shape"]], spec["dtype"])
        return np.concatenate(parts)

    def check(self, verify: bool = False) -> int:
        """Check every shard's size and header (and SHA-256 with ``verify``) without
        loading the arrays; return the number of images."""
        for i in range(len(self.shards)):
            self.read_shard(i, ["image_ids"], verify=verify)
        return len(self)

    def verify(self) -> int:
        """Check every shard's size, SHA-256 and arrays; return the number of images."""
        for i in range(len(self.shards)):
            self.read_shard(i, verify=True)
        return len(self)


def _validate_manifest(m, where: Path) -> None:
    def fail(msg):
        raise CacheError(f"{where}: corrupt manifest ({msg}); the shards were left untouched")

    if not isinstance(m, dict):
        fail("not a JSON object")
    missing = [k for k in _REQUIRED if k not in m]
    if missing:
        fail(f"missing {', '.join(missing)}")
    if m["format"] != FORMAT:
        fail(f"format is {m['format']!r}, expected {FORMAT!r}")
    if m["version"] != VERSION:
        fail(f"version {m['version']!r} is not supported")
    arrays = m["arrays"]
    if not isinstance(arrays, dict) or "image_ids" not in arrays:
        fail("'arrays' must describe 'image_ids'")
    for k, v in arrays.items():
        if (not isinstance(v, dict) or not isinstance(v.get("shape"), list)
                or not all(isinstance(s, int) and s > 0 for s in v["shape"])
                or v.get("dtype") not in _DTYPES):
            fail(f"bad description of array {k!r}")
    if not isinstance(m["shards"], list):
        fail("'shards' must be a list")
    seen = set()
    for i, s in enumerate(m["shards"]):
        if (not isinstance(s, dict) or not isinstance(s.get("file"), str)
                or "/" in s["file"] or s["file"].startswith(".")
                or not isinstance(s.get("n"), int) or not isinstance(s.get("bytes"), int)
                or not isinstance(s.get("sha256"), str)
                or not isinstance(s.get("image_ids"), list) or len(s["image_ids"]) != s["n"]):
            fail(f"bad entry for shard {i}")
        ids = set(s["image_ids"])
        if ids & seen:
            fail(f"shard {i} repeats image ids")
        seen |= ids
