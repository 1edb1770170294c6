"""The intro transformer: the intro paper's parameter names and shapes, and checkpoints as users saved them."""

from __future__ import annotations

import pytest
import torch

from filmline.engine.errors import BadInputError, MissingModelError
from filmline.engine.models.intro import IntroConfig, IntroTransformer, load_checkpoint, save_checkpoint

TINY = dict(window=12, dim=32, layers=2, heads=16, feedforward=48)  # the intro paper's 16 heads, tiny widths


def _tiny(seed: int = 0, **overrides) -> IntroTransformer:
    torch.manual_seed(seed)
    return IntroTransformer(IntroConfig.from_yaml(**{**TINY, **overrides})).eval()


def _same_output(a: IntroTransformer, b: IntroTransformer) -> bool:
    x = torch.randn(3, a.config.window, a.config.dim)
    with torch.inference_mode():
        return torch.allclose(a(x), b(x), atol=1e-6)


def test_default_is_seed_002():
    """16 layers of width 512, 16 heads, feed-forward 2048, a 60-step window: names and shapes
    of the paper's state_dict (built on the meta device: no memory, no time)."""
    config = IntroConfig.from_yaml()
    assert (config.window, config.dim, config.layers, config.heads, config.feedforward) == (60, 512, 16, 16, 2048)
    with torch.device("meta"):
        state = IntroTransformer(config).state_dict()
    assert state["pos_embed"].shape == (1, 60, 512)
    assert state["head.weight"].shape == (1, 512) and state["head.bias"].shape == (1,)
    per_layer = {
        "self_attn.in_proj_weight": (1536, 512), "self_attn.in_proj_bias": (1536,),
        "self_attn.out_proj.weight": (512, 512), "self_attn.out_proj.bias": (512,),
        "linear1.weight": (2048, 512), "linear1.bias": (2048,), "linear2.weight": (512, 2048), "linear2.bias": (512,),
        "norm1.weight": (512,), "norm1.bias": (512,), "norm2.weight": (512,), "norm2.bias": (512,),
    }
    expected = {"pos_embed", "head.weight", "head.bias"} | {f"transformer.layers.{i}.{k}" for i in range(16) for k in per_layer}
    assert set(state) == expected
    for i in range(16):
        for key, shape in per_layer.items():
            assert state[f"transformer.layers.{i}.{key}"].shape == shape


def test_forward_shape_and_credits_output():
    model = _tiny(outputs=("intro", "credits"))
    assert model(torch.randn(5, 12, 32)).shape == (5, 12, 2)


def test_seed_state_dict_with_clip_tower(tmp_path):
    model = _tiny()
    state = dict(model.state_dict())
    state["clip.visual.conv1.weight"] = torch.zeros(4, 3, 2, 2)
    torch.save(state, tmp_path / "seed.pth")
    loaded = load_checkpoint(tmp_path / "seed.pth")
    assert loaded.model.config == IntroConfig.from_yaml(**TINY)  # sizes from the shapes, heads from the YAML
    assert loaded.embedder == "clip-b32" and loaded.metrics == {}
    assert any("CLIP tower" in note for note in loaded.notes)
    assert _same_output(model, loaded.model)


@pytest.mark.parametrize("wrapper", ["model_state_dict", "state_dict"])
def test_nested_and_data_parallel(tmp_path, wrapper):
    model = _tiny()
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"epoch": 3, wrapper: state, "loss": 0.1}, tmp_path / "nested.pt")
    loaded = load_checkpoint(tmp_path / "nested.pt")
    assert any(wrapper in note for note in loaded.notes) and any("DataParallel" in note for note in loaded.notes)
    assert _same_output(model, loaded.model)


def test_unexpected_keys_are_a_note_or_fatal_with_strict(tmp_path):
    state = dict(_tiny().state_dict())
    state["classifier.weight"] = torch.zeros(2)
    torch.save(state, tmp_path / "extra.pth")
    assert any("1 unexpected keys" in note and "classifier.weight" in note for note in load_checkpoint(tmp_path / "extra.pth").notes)
    with pytest.raises(BadInputError, match=r"unexpected keys.*classifier\.weight.*drop --strict"):
        load_checkpoint(tmp_path / "extra.pth", strict=True)


def test_extra_weights_inside_the_model_are_fatal(tmp_path):
    state = dict(_tiny().state_dict())
    state["transformer.norm.weight"] = torch.ones(32)  # a final LayerNorm the intro paper does not have
    torch.save(state, tmp_path / "norm.pth")
    with pytest.raises(BadInputError, match=r"architecture lacks \(transformer\.norm\.weight\)"):
        load_checkpoint(tmp_path / "norm.pth")


def test_missing_keys_are_fatal(tmp_path):
    state = dict(_tiny().state_dict())
    del state["transformer.layers.1.norm2.weight"], state["head.bias"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(BadInputError, match=r"lacks 2 intro-transformer weights \(.*norm2\.weight.*\)") as err:
        load_checkpoint(tmp_path / "partial.pth")
    assert "\n" not in str(err.value)


def test_not_an_intro_model(tmp_path):
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    with pytest.raises(BadInputError, match="lacks pos_embed"):
        load_checkpoint(tmp_path / "other.pth")
    (tmp_path / "notes.pth").write_text("not a checkpoint")
    with pytest.raises(BadInputError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(tmp_path / "notes.pth")
    with pytest.raises(MissingModelError, match="does not exist"):
        load_checkpoint(tmp_path / "absent.pth")


def test_heads_must_divide_the_width(tmp_path):
    torch.save(_tiny(dim=20, heads=4).state_dict(), tmp_path / "odd.pth")  # 20 is not divisible by 16
    with pytest.raises(BadInputError, match="not divisible by heads 16.*model.heads"):
        load_checkpoint(tmp_path / "odd.pth")
    assert load_checkpoint(tmp_path / "odd.pth", heads=4).model.config.heads == 4


def test_own_checkpoint_round_trip(tmp_path):
    model = _tiny(outputs=("intro", "credits"), heads=2)
    path = save_checkpoint(model, tmp_path / "out" / "intro.pt", embedder="luma-16x9", metrics={"f1": 0.9})
    loaded = load_checkpoint(path)
    assert loaded.model.config == model.config  # heads from the stored config, not the YAML
    assert loaded.embedder == "luma-16x9" and loaded.metrics == {"f1": 0.9} and loaded.notes == ()
    assert _same_output(model, loaded.model)
    assert [p.name for p in path.parent.iterdir()] == ["intro.pt"]  # no temporary left behind
