"""The synthetic feature world: the embedded default dataset when no real features exist.

Everything here is SYNTHETIC: random numbers shaped like EUPE-ViT-B features, generated
deterministically from a seed in seconds, numpy only. Every name, report line and manifest
that shows them says ``synthetic``. They exercise the whole pipeline (discovery, fitting,
training, integer conversion, hardware, regression) and make its results checkable, but a
number measured on them says nothing about COCO.

**Pooled features** (:func:`pooled_dataset`), for the person classifier: ``n`` vectors of
768 floats, about 54 % with a person (as in COCO val2017). Each dimension has its own mean
and spread; a per-image nuisance factor moves all dimensions together (it cancels in the
sum-difference, as the real classifier's pairing of positive and negative dimensions
does); a person moves 20 hidden dimensions up and 20 down by an amount that varies from
image to image (small people move them little), and 40 decoy dimensions carry a weaker,
nuisance-like person signal. The overlap is set so that the best 40-dimension
sum-difference classifier reaches an F1 near seed 000's 0.889.

**Feature grids** (:func:`grid_dataset`), for the detector: [40, 40, 768] float32 grids
(the stride-16 grid of a 640-px letterboxed image) with Gaussian background, a per-image
mean vector, and planted objects. An object of scale ``s`` (0, 1, 2) occupies one aligned
``2^s × 2^s`` block of cells, so it appears in cofiber band ``s`` (stride 16·2^s), and adds
there a class direction (one random unit vector per COCO class) plus two size directions
whose coefficients are the log of the box's relative width and height. Its box is the
block scaled by those factors (0.85..1) about the block centre, in pixels of the 640-px
image. Each object's parent 4×4-cell block holds no other object. A linear head on the
cofiber bands can therefore learn both the class and the box. Grids are not stored: each
is regenerated from ``(seed, image_id)`` on request. Annotations are a COCO-format dict
(all 80 categories) that pycocotools evaluates as it would COCO val2017.

**Images** (:func:`image_dataset`), for the backbone reductions and the student (which
need pixels, not features): small RGB images, half with an upright skin-coloured ellipse
(the "person") on a smooth random background, some of the others with a box of another
colour.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..fileio import atomic_write_json
from .cache import FeatureCache
from .coco import COCO_CATEGORIES, categories_json

__all__ = [
    "DEFAULT_GRID_CATEGORIES",
    "GRID_NAME",
    "POOLED_NAME",
    "GridDataset",
    "IMAGES_NAME",
    "ImageDataset",
    "PooledDataset",
    "fingerprint",
    "grid_dataset",
    "image_dataset",
    "pooled_dataset",
    "write_synthetic_cache",
]

POOLED_NAME = "synthetic-pooled-v1"
GRID_NAME = "synthetic-grids-v1"
FEATURE_DIM = 768
PERSON_RATE = 0.5386  # 2693 of 5000 COCO val2017 images show a person

# Stream tags keep the pooled set, the grid world and its per-image draws independent.
_POOLED, _GRID_WORLD, _GRID_IMAGE, _IMAGES = 1, 2, 3, 4
IMAGES_NAME = "synthetic-images-v1"

# Pooled-set constants, chosen so that the best 40-dim classifier lands near F1 0.889.
_SHIFT = 0.545  # planted shift per dimension, in units of that dimension's spread
_DECOY_SHIFT = 0.12
_NUISANCE = 0.8


def _rng(*tags: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(t) for t in tags])))


def fingerprint(*arrays) -> str:
    """The first 16 hex digits of the SHA-256 of the arrays' bytes (for reports)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


@dataclass
class PooledDataset:
    """Synthetic pooled features with person labels (SYNTHETIC, see the module docstring).

    ``features`` [n, 768] float32; ``person`` [n] bool; ``image_ids`` [n] int64 (1..n);
    ``planted_pos`` / ``planted_neg`` the 20 + 20 dimensions a person moves up / down;
    ``decoys`` the 40 dimensions with a weak person signal; ``name`` and ``seed``.
    """

    features: np.ndarray
    person: np.ndarray
    image_ids: np.ndarray
    planted_pos: list[int]
    planted_neg: list[int]
    decoys: list[int]
    seed: int
    name: str = POOLED_NAME
    synthetic: bool = True

    def __len__(self) -> int:
        return len(self.person)

    @property
    def label(self) -> str:
        """How reports name this data, e.g. ``synthetic-pooled-v1 (synthetic, seed 0)``."""
        return f"{self.name} (synthetic, seed {self.seed}, n={len(self)})"


def pooled_dataset(n: int = 5000, seed: int = 0) -> PooledDataset:
    """The synthetic pooled set: ``n`` images, deterministic in ``(n, seed)``.

    Same arguments, same bytes, on every machine that has the same numpy random streams
    (PCG64 with the default normal sampler).
    """
    if n < 2:
        raise ValueError("n must be at least 2")
    world = _rng(seed, _POOLED, 0)
    D = FEATURE_DIM
    perm = world.permutation(D)
    pos, neg = sorted(perm[:20].tolist()), sorted(perm[20:40].tolist())
    decoys = sorted(perm[40:80].tolist())
    mean = world.normal(0.0, 0.4, D)
    spread = world.uniform(0.5, 1.5, D)
    loading = world.uniform(0.3, 1.0, D)  # how much the nuisance factor moves each dimension
    effect = np.zeros(D)
    effect[pos] = world.uniform(0.6, 1.4, 20) * _SHIFT
    effect[neg] = -world.uniform(0.6, 1.4, 20) * _SHIFT
    effect[decoys] = world.choice([-1.0, 1.0], 40) * _DECOY_SHIFT
    # the decoys follow the nuisance factor strongly, so they never beat the planted dims
    loading[decoys] *= 2.0

    draw = _rng(seed, _POOLED, 1, n)
    person = draw.random(n) < PERSON_RATE
    # how visible the person is: most images clearly, some barely (small or occluded)
    strength = np.where(person, draw.beta(4.0, 1.3, n), 0.0)
    nuisance = draw.normal(0.0, _NUISANCE, n)
    noise = draw.standard_normal((n, D))
    f = mean + spread * (noise + nuisance[:, None] * loading + strength[:, None] * effect)
    return PooledDataset(
        features=f.astype(np.float32),
        person=person,
        image_ids=np.arange(1, n + 1, dtype=np.int64),
        planted_pos=pos,
        planted_neg=neg,
        decoys=decoys,
        seed=int(seed),
    )


# -- grids -------------------------------------------------------------------------------------

#: COCO category ids planted by default: a handful of frequent classes.
DEFAULT_GRID_CATEGORIES: tuple[int, ...] = (1, 3, 18, 17, 62, 44, 16, 2)


@dataclass
class _Object:
    category_id: int
    scale: int  # 0, 1, 2 -> stride 16, 32, 64
    cell: tuple[int, int]  # top-left cell (row, col) of its 2^s x 2^s block
    fw: float  # box width / block width
    fh: float


@dataclass
class GridDataset:
    """Synthetic feature grids with COCO-format annotations (SYNTHETIC).

    ``image_ids`` [n] int64; :meth:`grid` regenerates one [H, W, 768] float32 grid;
    :attr:`coco` is the annotation dict (images, annotations, categories = all 80 COCO
    classes) with boxes ``[x, y, w, h]`` in pixels of the ``image_size``-px letterboxed
    image; ``class_directions`` [80, 768] float32 unit vectors (rows in COCO class order);
    ``size_directions`` [2, 768] (width, height).
    """

    image_ids: np.ndarray
    seed: int
    categories: tuple[int, ...]
    grid_hw: tuple[int, int] = (40, 40)
    image_size: int = 640
    amplitude: float = 12.0
    size_gain: float = 24.0
    noise: float = 1.0
    name: str = GRID_NAME
    synthetic: bool = True
    class_directions: np.ndarray = field(default=None, repr=False)
    size_directions: np.ndarray = field(default=None, repr=False)
    coco: dict = field(default=None, repr=False)
    _objects: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.image_ids)

    @property
    def label(self) -> str:
        return f"{self.name} (synthetic, seed {self.seed})"

    def objects(self, image_id: int) -> list[_Object]:
        return self._objects[int(image_id)]

    def grid(self, image_id: int) -> np.ndarray:
        """The [H, W, 768] float32 grid of one image, regenerated from (seed, image_id)."""
        image_id = int(image_id)
        objs = self._objects[image_id]
        H, W = self.grid_hw
        rng = _rng(self.seed, _GRID_IMAGE, image_id, 1)
        g = rng.standard_normal((H, W, FEATURE_DIM), dtype=np.float32)
        g *= np.float32(self.noise)
        g += (rng.standard_normal(FEATURE_DIM, dtype=np.float32) * np.float32(0.5))
        cls_row = {c: k for k, (c, _) in enumerate(COCO_CATEGORIES)}
        for o in objs:
            v = self.amplitude * self.class_directions[cls_row[o.category_id]]
            v = v + self.size_gain * (
                np.log(o.fw) * self.size_directions[0] + np.log(o.fh) * self.size_directions[1]
            )
            r, c = o.cell
            b = 1 << o.scale
            g[r : r + b, c : c + b] += v.astype(np.float32)
        return g

    def iter_grids(self, image_ids=None):
        """Yield ``(image_id, grid)`` for the given ids (default: all), one at a time."""
        for i in self.image_ids if image_ids is None else image_ids:
            yield int(i), self.grid(int(i))


def _place_objects(rng, H, W, categories, max_objects) -> list[_Object]:
    n = int(rng.integers(1, max_objects + 1))
    free = np.ones((H // 4, W // 4), bool)  # one object per parent 4x4-cell block
    objs = []
    for _ in range(n):
        cand = np.flatnonzero(free)
        if cand.size == 0:
            break
        blk = int(rng.choice(cand))
        free.flat[blk] = False
        br, bc = divmod(blk, W // 4)
        s = int(rng.integers(0, 3))
        b = 1 << s
        off_r = int(rng.integers(0, 4 // b)) * b
        off_c = int(rng.integers(0, 4 // b)) * b
        objs.append(_Object(
            category_id=int(rng.choice(categories)),
            scale=s,
            cell=(4 * br + off_r, 4 * bc + off_c),
            fw=float(rng.uniform(0.85, 1.0)),
            fh=float(rng.uniform(0.85, 1.0)),
        ))
    return objs


def grid_dataset(
    n_images: int = 64,
    seed: int = 0,
    *,
    categories=DEFAULT_GRID_CATEGORIES,
    grid_hw: tuple[int, int] = (40, 40),
    max_objects: int = 4,
    first_id: int = 1,
) -> GridDataset:
    """The synthetic grid world: ``n_images`` images with ids ``first_id..``.

    Deterministic in ``(seed, image_id)``: an image's grid and objects do not depend on
    ``n_images``, so a small set is a prefix of a large one. ``categories``: COCO category
    ids to plant (default :data:`DEFAULT_GRID_CATEGORIES`). Grid height and width must be
    divisible by 4; the image size is 16 × the grid width.
    """
    H, W = grid_hw
    if H % 4 or W % 4 or H != W:
        raise ValueError(f"grid must be square with sides divisible by 4, got {grid_hw}")
    known = {c for c, _ in COCO_CATEGORIES}
    bad = [c for c in categories if c not in known]
    if bad:
        raise ValueError(f"not COCO category ids: {bad}")
    world = _rng(seed, _GRID_WORLD, 0)
    dirs = world.standard_normal((len(COCO_CATEGORIES) + 2, FEATURE_DIM))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    ds = GridDataset(
        image_ids=np.arange(first_id, first_id + n_images, dtype=np.int64),
        seed=int(seed),
        categories=tuple(int(c) for c in categories),
        grid_hw=(H, W),
        image_size=16 * W,
        class_directions=dirs[:-2].astype(np.float32),
        size_directions=dirs[-2:].astype(np.float32),
    )
    images, anns = [], []
    for img in ds.image_ids:
        img = int(img)
        objs = _place_objects(_rng(seed, _GRID_IMAGE, img, 0), H, W, ds.categories,
                              max_objects)
        ds._objects[img] = objs
        images.append({"id": img, "width": ds.image_size, "height": ds.image_size,
                       "file_name": f"synthetic-{seed}-{img:06d}"})
        for o in objs:
            size = 16.0 * (1 << o.scale)
            cy = o.cell[0] * 16.0 + size / 2
            cx = o.cell[1] * 16.0 + size / 2
            w, h = size * o.fw, size * o.fh
            anns.append({
                "id": len(anns) + 1, "image_id": img, "category_id": o.category_id,
                "bbox": [round(cx - w / 2, 3), round(cy - h / 2, 3), round(w, 3), round(h, 3)],
                "area": round(w * h, 3), "iscrowd": 0,
            })
    ds.coco = {
        "info": {"description": f"{GRID_NAME} (synthetic, seed {seed})"},
        "images": images,
        "annotations": anns,
        "categories": categories_json(),
    }
    return ds


def write_synthetic_cache(out, kind: str = "pooled", seed: int = 0, n: int | None = None,
                          shard_size: int | None = None):
    """Write the synthetic pooled set or grid world into a cache at ``out``; return it.

    Grids are stored as float32 so the cache holds exactly what the generator makes; the
    grid cache also gets ``annotations.json`` (COCO format) beside the manifest.
    """
    out = Path(out)
    if kind == "pooled":
        ds = pooled_dataset(n=n or 5000, seed=seed)
        cache = FeatureCache.create(
            out, backbone="synthetic", resolution=768, synthetic=True, dataset=ds.label,
            arrays={"image_ids": {"shape": [], "dtype": "int64"},
                    "pooled": {"shape": [ds.features.shape[1]], "dtype": "float32"},
                    "person": {"shape": [], "dtype": "bool"}},
            extra={"planted_pos": ds.planted_pos, "planted_neg": ds.planted_neg},
        )
        done = set(cache.image_ids.tolist())
        step = shard_size or 1000
        for s in range(0, len(ds), step):
            sl = slice(s, s + step)
            if set(ds.image_ids[sl].tolist()) <= done:
                continue
            cache.append_shard({"image_ids": ds.image_ids[sl], "pooled": ds.features[sl],
                                "person": ds.person[sl]})
        return cache
    ds = grid_dataset(n_images=n or 64, seed=seed)
    H, W = ds.grid_hw
    cache = FeatureCache.create(
        out, backbone="synthetic", resolution=ds.image_size, synthetic=True, dataset=ds.label,
        arrays={"image_ids": {"shape": [], "dtype": "int64"},
                "grid": {"shape": [H, W, 768], "dtype": "float32"},
                "letterbox_scale": {"shape": [], "dtype": "float32"},
                "orig_hw": {"shape": [2], "dtype": "int32"}},
        extra={"annotations": "annotations.json"},
    )
    atomic_write_json(out / "annotations.json", ds.coco)
    done = set(cache.image_ids.tolist())
    step = shard_size or 16
    for s in range(0, len(ds), step):
        ids = ds.image_ids[s : s + step]
        if set(ids.tolist()) <= done:
            continue
        cache.append_shard({
            "image_ids": ids,
            "grid": np.stack([ds.grid(int(i)) for i in ids]),
            "letterbox_scale": np.ones(len(ids), np.float32),
            "orig_hw": np.full((len(ids), 2), ds.image_size, np.int32),
        })
    return cache


# -- images ------------------------------------------------------------------------------------


@dataclass
class ImageDataset:
    """Synthetic RGB images with a person label (SYNTHETIC), for the backbone reductions.

    ``pixels`` [n, S, S, 3] float32 in [0, 1]; ``person`` [n] bool; ``image_ids`` [n] int64
    (1..n). A "person" is an upright ellipse of a skin-like colour planted on a smooth
    random background; an image without one may hold a box of another colour instead.
    """

    pixels: np.ndarray
    person: np.ndarray
    image_ids: np.ndarray
    seed: int
    name: str = IMAGES_NAME
    synthetic: bool = True

    def __len__(self) -> int:
        return len(self.person)

    @property
    def label(self) -> str:
        return f"{self.name} (synthetic, seed {self.seed}, n={len(self)})"


def image_dataset(n: int = 256, size: int = 64, seed: int = 0) -> ImageDataset:
    """``n`` synthetic images of ``size`` px, half with a planted person; deterministic in
    ``(n, size, seed)``."""
    if n < 2 or size < 16:
        raise ValueError("need n >= 2 images of at least 16 px")
    rng = _rng(seed, _IMAGES, n, size)
    yy, xx = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    person = rng.random(n) < 0.5
    out = np.empty((n, size, size, 3), np.float32)
    for k in range(n):
        # smooth background: a random colour gradient plus a little noise
        c0, c1 = rng.uniform(0.1, 0.9, 3), rng.uniform(0.1, 0.9, 3)
        t = (yy * rng.uniform(-1, 1) + xx * rng.uniform(-1, 1))[..., None]
        img = c0 + (c1 - c0) * (t - t.min()) / max(np.ptp(t), 1e-6)
        img = img + rng.normal(0, 0.03, img.shape)
        cy, cx = rng.uniform(0.3, 0.7, 2)
        h = rng.uniform(0.25, 0.45)
        if person[k]:
            w = h * rng.uniform(0.3, 0.5)
            inside = ((yy - cy) / h) ** 2 + ((xx - cx) / w) ** 2 < 1
            img[inside] = np.array([0.85, 0.6, 0.45]) + rng.normal(0, 0.03, 3)
        elif rng.random() < 0.5:
            inside = (abs(yy - cy) < h / 2) & (abs(xx - cx) < h / 2)
            img[inside] = rng.uniform(0, 1, 3) * np.array([0.3, 0.6, 1.0])
        out[k] = np.clip(img, 0, 1)
    return ImageDataset(out, person, np.arange(1, n + 1, dtype=np.int64), int(seed))
