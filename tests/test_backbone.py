"""The EUPE backbone: official layout, strict loading, forward shapes, preprocessing."""

import math
from pathlib import Path

import numpy as np
import pytest

from conftest import require_torch

torch = require_torch()

from vitgates import VitgatesError
from vitgates.golden.backbone import (
    IMAGENET_MEAN,
    eupe_vit,
    letterbox,
    load_eupe,
    load_layout,
    preprocess,
)

pytestmark = pytest.mark.torch

# small models and inputs: one thread beats several contending for the cores (and xdist)
torch.set_num_threads(1)

LAYOUT = Path(__file__).parent / "data" / "eupe_state_dict_layout.json"


@pytest.fixture(scope="module")
def layout():
    return load_layout(LAYOUT)


def test_vitb16_loads_the_official_layout_strictly(layout):
    want = layout["vitb16"]
    model = eupe_vit("vitb16")
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == want
    g = torch.Generator().manual_seed(0)
    sd = {k: torch.randn(shape, generator=g) * 0.02 for k, shape in want.items()}
    result = model.load_state_dict(sd, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert sum(int(np.prod(s)) for s in want.values()) == 85697296  # the reference's count


def test_vitt16_matches_the_official_layout(layout):
    model = eupe_vit("vitt16")
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == layout["vitt16"]


def test_vits16_follows_the_family():
    sd = eupe_vit("vits16").state_dict()
    assert list(sd["cls_token"].shape) == [1, 1, 384]
    assert list(sd["blocks.0.attn.qkv.weight"].shape) == [1152, 384]
    assert list(sd["rope_embed.periods"].shape) == [16]  # head dim 64 / 4
    assert len([k for k in sd if k.endswith("ls1.gamma")]) == 12


def test_forward_features_shapes_vitt16():
    model = eupe_vit("vitt16")
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        out = model.forward_features(x)
    assert out["x_norm_clstoken"].shape == (2, 192)
    assert out["x_storage_tokens"].shape == (2, 4, 192)
    assert out["x_norm_patchtokens"].shape == (2, 24, 192)
    assert model.patch_grid(out, 64, 96).shape == (2, 4, 6, 192)
    assert all(torch.isfinite(v).all() for v in out.values())


def test_rope_periods_and_key_bias_mask():
    model = eupe_vit("vitt16")
    periods = model.rope_embed.periods
    want = [100 ** (2 * i / 32) for i in range(16)]
    assert np.allclose(periods.numpy(), want, rtol=1e-6)
    mask = model.blocks[0].attn.qkv.bias_mask
    assert mask[:192].eq(1).all() and mask[192:384].eq(0).all() and mask[384:].eq(1).all()


def test_key_bias_has_no_effect():
    # the masked k-bias must not change anything, whatever its value
    model = eupe_vit("vitt16")
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        a = model.forward_features(x)["x_norm_patchtokens"]
        model.blocks[3].attn.qkv.bias[192:384] += 5.0
        b = model.forward_features(x)["x_norm_patchtokens"]
    assert torch.equal(a, b)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_load_eupe_round_trip(tmp_path, suffix):
    model = eupe_vit("vitt16")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)
    path = tmp_path / f"eupe_vitt16{suffix}"
    if suffix == ".pth":
        torch.save(model.state_dict(), path)
    else:
        from safetensors.torch import save_file

        save_file(model.state_dict(), str(path))
    loaded = load_eupe(path)  # arch inferred from cls_token
    assert loaded.arch == "vitt16" and not loaded.training
    x = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        assert torch.equal(model.forward_features(x)["x_norm_patchtokens"],
                           loaded.forward_features(x)["x_norm_patchtokens"])


def _one_line(e):
    assert "\n" not in str(e.value)


def test_load_eupe_refuses_bad_checkpoints(tmp_path):
    with pytest.raises(VitgatesError, match="no such checkpoint") as e:
        load_eupe(tmp_path / "absent.pth", "vitt16")
    _one_line(e)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(VitgatesError, match="not a readable checkpoint") as e:
        load_eupe(junk, "vitt16")
    _one_line(e)
    sd = eupe_vit("vitt16").state_dict()
    missing = dict(sd)
    del missing["blocks.3.ls2.gamma"]
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(VitgatesError, match="missing key") as e:
        load_eupe(tmp_path / "missing.pth", "vitt16")
    _one_line(e)
    wrong = dict(sd, **{"norm.weight": torch.ones(7)})
    torch.save(wrong, tmp_path / "wrong.pth")
    with pytest.raises(VitgatesError, match="shape") as e:
        load_eupe(tmp_path / "wrong.pth", "vitt16")
    torch.save(sd, tmp_path / "t.pth")
    with pytest.raises(VitgatesError, match="not an EUPE vitb16"):
        load_eupe(tmp_path / "t.pth", "vitb16")


def test_letterbox_and_preprocess():
    img = np.full((50, 100, 3), 255, np.uint8)  # wide white image
    pix, lb = letterbox(img, 640)
    assert pix.shape == (640, 640, 3) and math.isclose(lb.scale, 6.4)
    assert lb.orig_hw == (50, 100)
    assert np.allclose(pix[:320], 1.0)
    assert np.allclose(pix[320:], IMAGENET_MEAN)  # padding at the mean colour
    x = preprocess(pix)
    assert x.shape == (3, 640, 640) and x.dtype == torch.float32
    assert torch.allclose(x[:, 320:], torch.zeros(()), atol=1e-6)  # padding normalises to 0
    with pytest.raises(VitgatesError):
        letterbox(img, 600)


def _fixture_state_dict():
    """vitt16 weights perturbed away from their init, LayerScale near 0.5 (deterministic)."""
    sd = eupe_vit("vitt16").state_dict()
    g = torch.Generator().manual_seed(1)
    for k in sorted(sd):
        if k.endswith(("bias_mask", "periods")):
            continue
        sd[k] = sd[k] + 0.05 * torch.randn(sd[k].shape, generator=g)
        if k.endswith("gamma"):
            sd[k] = sd[k] + 0.5
    return sd


def test_forward_matches_the_reference_implementation():
    """tests/data/eupe_vitt16_reference_outputs.npz holds the outputs of the reference
    DINOv3 ViT code (run once, outside this project) for these weights and this input."""
    want = np.load(Path(__file__).parent / "data" / "eupe_vitt16_reference_outputs.npz")
    model = eupe_vit("vitt16")
    model.load_state_dict(_fixture_state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = model.forward_features(x)
    for key in ("x_norm_clstoken", "x_storage_tokens", "x_norm_patchtokens"):
        np.testing.assert_allclose(out[key].numpy(), want[key], rtol=0, atol=1e-4)
