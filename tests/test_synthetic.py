"""The synthetic feature world: deterministic, labelled synthetic, and well formed."""

import numpy as np
import pytest

from vitgates.features.coco import coco_from_dict
from vitgates.features.synthetic import (
    DEFAULT_GRID_CATEGORIES,
    fingerprint,
    grid_dataset,
    pooled_dataset,
)
from vitgates.golden.detector_float import coco_map, cofiber_bands


def test_pooled_is_deterministic_and_shaped():
    a, b = pooled_dataset(seed=0), pooled_dataset(seed=0)
    assert a.features.tobytes() == b.features.tobytes()
    assert np.array_equal(a.person, b.person)
    assert a.features.shape == (5000, 768) and a.features.dtype == np.float32
    assert a.person.dtype == bool and a.image_ids.dtype == np.int64
    assert 0.51 < a.person.mean() < 0.57
    assert a.name == "synthetic-pooled-v1" and "synthetic" in a.label
    assert len(set(a.planted_pos + a.planted_neg + a.decoys)) == 80
    c = pooled_dataset(seed=1)
    assert fingerprint(c.features) != fingerprint(a.features)
    small = pooled_dataset(n=100, seed=0)
    assert small.features.shape == (100, 768)


def test_grids_are_deterministic_per_image():
    a = grid_dataset(n_images=4, seed=0)
    b = grid_dataset(n_images=8, seed=0)  # a longer set starts with the same images
    for i in a.image_ids:
        assert a.grid(i).tobytes() == b.grid(i).tobytes()
    assert a.coco["annotations"] == b.coco["annotations"][: len(a.coco["annotations"])]
    g = a.grid(a.image_ids[0])
    assert g.shape == (40, 40, 768) and g.dtype == np.float32
    assert grid_dataset(n_images=1, seed=1).grid(1).tobytes() != g.tobytes()


def test_grid_annotations_are_coco_and_evaluate_perfectly():
    ds = grid_dataset(n_images=6, seed=0)
    assert len(ds.coco["categories"]) == 80
    assert "synthetic" in ds.coco["info"]["description"]
    coco = coco_from_dict(ds.coco)
    assert sorted(coco.getImgIds()) == ds.image_ids.tolist()
    cats = {a["category_id"] for a in ds.coco["annotations"]}
    assert cats <= set(DEFAULT_GRID_CATEGORIES)
    results = [{"image_id": a["image_id"], "category_id": a["category_id"],
                "bbox": a["bbox"], "score": 1.0} for a in ds.coco["annotations"]]
    assert coco_map(ds.coco, results)["map"] == pytest.approx(1.0)


def test_objects_appear_in_their_band():
    ds = grid_dataset(n_images=8, seed=0)
    from vitgates.features.coco import category_index

    for img in ds.image_ids:
        bands = cofiber_bands(ds.grid(img))
        for o in ds.objects(img):
            u = ds.class_directions[category_index(o.category_id)]
            proj = [float(bands[k][o.cell[0] >> k, o.cell[1] >> k] @ u) for k in range(3)]
            # the object's own band carries the strongest class signal
            assert int(np.argmax(proj)) == o.scale


def test_numpy_paths_never_import_torch():
    import subprocess
    import sys

    code = ("import sys\n"
            "import vitgates.features.synthetic, vitgates.features.cache\n"
            "import vitgates.commands.features\n"
            "import vitgates.golden.person_float, vitgates.golden.detector_float\n"
            "import vitgates.golden.reference_vectors, vitgates.commands.train\n"
            "import vitgates.commands.vectors, vitgates.commands.regress\n"
            "vitgates.features.synthetic.grid_dataset(2).grid(1)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)
