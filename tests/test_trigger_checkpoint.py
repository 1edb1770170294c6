"""Trigger-model checkpoints load (architecture inferred, language model skipped), and bad ones fail
with one clear line: wrong architecture, wrong shapes, truncated, missing, strict mismatches."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
import torch

from filmline.engine.errors import BadInputError, MissingModelError
from filmline.engine.models.trigger import TriggerConfig, TriggerModel
from filmline.engine.models.trigger_checkpoint import load_trigger_checkpoint
from filmline.engine.models.trigger_time_aware import TimeAwareConfig
from filmline.export.cli import main as engine_build

TINY = dict(width=8, feature_dim=32, hidden_dim=16)


def seed_checkpoint(path: Path, config: TriggerConfig, *, llm: bool = True, edit=None) -> TriggerModel:
    """Save a model as the original trigger model's train.py does, with its frozen language model's tensors."""
    torch.manual_seed(0)
    model = TriggerModel(config).eval()
    state = model.state_dict()
    if llm:
        state["temporal_llm.llava.language_model.embed_tokens.weight"] = torch.zeros(10, 4)
        state["temporal_llm.llava.vision_tower.proj.weight"] = torch.zeros(4, 4)
    if edit is not None:
        edit(state)
    seed_file = {"epoch": 7, "model_state_dict": state, "optimizer_state_dict": {}, "loss": 0.25, "llm_model_name": "llava-hf/llava-1.5-7b-hf"}
    torch.save(seed_file, path)
    return model


def test_seed_checkpoint_loads_exactly_with_every_part(tmp_path: Path) -> None:
    time_aware = TimeAwareConfig(input_dim=32, hidden_dim=16, num_layers=2, num_heads=8, max_positions=40)
    original = seed_checkpoint(tmp_path / "seed.pt", TriggerConfig(encoder="resnet18", time_aware=time_aware, **TINY))
    model, report = load_trigger_checkpoint(tmp_path / "seed.pt", strict=True)
    assert report.exact and report.skipped == 2 and report.epoch == 7
    assert model.config == TriggerConfig(encoder="resnet18", image_size=224, time_aware=time_aware, **TINY)
    frames, valid = torch.rand(2, 3, 3, 64, 64), torch.ones(2, 3, dtype=torch.bool)
    with torch.inference_mode():
        assert torch.equal(model(frames, valid), original(frames, valid))


@pytest.mark.parametrize(
    "config",
    [
        TriggerConfig(encoder="resnet50", width=4, feature_dim=32, hidden_dim=16, temporal=False),
        TriggerConfig(
            encoder="resnet18",
            time_aware=TimeAwareConfig(input_dim=32, hidden_dim=16, num_layers=3, kind="lstm", use_timestamps=False),
            **TINY,
        ),
    ],
    ids=["resnet50-no-lstm", "time-aware-lstm"],
)
def test_architecture_is_inferred_from_shapes(tmp_path: Path, config: TriggerConfig) -> None:
    seed_checkpoint(tmp_path / "seed.pt", config, llm=False)
    model, report = load_trigger_checkpoint(tmp_path / "seed.pt", strict=True)
    assert report.exact and model.config == config


def test_seed_checkpoint_exports_with_parity_and_without_its_language_model(tmp_path: Path) -> None:
    """Also: an unknown tensor (a second LSTM layer) is reported, recorded, and refused by --strict."""
    from filmline.export.pipeline import BuildRequest
    from filmline.export.trigger import build

    extra = "trigger_detector.temporal_encoder.weight_ih_l1"
    time_aware = TimeAwareConfig(input_dim=32, hidden_dim=16, num_layers=1, num_heads=8, max_positions=40)
    config = TriggerConfig(encoder="resnet18", time_aware=time_aware, **TINY)
    seed_checkpoint(tmp_path / "seed.pt", config, edit=lambda state: state.update({extra: torch.zeros(64, 16)}))
    lines: list[str] = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny graph: threads only cost on shared CI cores
    try:
        result = build(BuildRequest("trigger", checkpoint=tmp_path / "seed.pt", out=tmp_path / "trigger"), lines.append)
    finally:
        torch.set_num_threads(threads)
    manifest = result.manifest
    assert "skipped 2 language-model tensors (temporal_llm.*): the trigger stage does not use them" in lines
    assert any(line.startswith(f"warning: 1 tensors are unknown to it (e.g. {extra})") for line in lines)
    assert manifest["parity"]["onnxruntime"]["passed"] and manifest["parity"]["onnxruntime-confidence"]["passed"]
    assert manifest["input"]["image_size"] == 224 and manifest["embedding_dim"] == 32  # seed files: 224 px
    assert manifest["checkpoint"]["skipped_language_model_tensors"] == 2 and manifest["checkpoint"]["unexpected"] == [extra]
    kept = torch.load(tmp_path / "trigger" / "trigger.pt", weights_only=True)["state_dict"]
    assert not any(key.startswith(("time_aware_encoder.", "temporal_llm.")) for key in kept)
    with pytest.raises(BadInputError, match="does not match the trigger model exactly"):
        build(BuildRequest("trigger", checkpoint=tmp_path / "seed.pt", out=tmp_path / "trigger", strict=True))  # the up-to-date artifact too


def test_a_bare_state_dict_is_accepted(tmp_path: Path) -> None:
    model = TriggerModel(TriggerConfig(encoder="resnet18", **TINY))
    torch.save(model.state_dict(), tmp_path / "bare.pt")
    assert load_trigger_checkpoint(tmp_path / "bare.pt", strict=True)[1].epoch is None


def test_time_aware_encoder_ignores_padding(tmp_path: Path) -> None:
    """The seed passed its 1 = valid mask as the padding mask; padded frames must not matter."""
    from filmline.engine.models.trigger_time_aware import TimeAwareEncoder

    torch.manual_seed(0)
    encoder = TimeAwareEncoder(TimeAwareConfig(input_dim=8, hidden_dim=16, num_layers=1, num_heads=4)).eval()
    features, seconds = torch.rand(1, 5, 8), torch.arange(5.0).unsqueeze(0)
    valid = torch.tensor([[True, True, True, False, False]])
    other = features.clone()
    other[0, 3:] = 100.0
    with torch.inference_mode():
        a, b = encoder(features, seconds, valid), encoder(other, seconds, valid)
    assert torch.allclose(a[0, :3], b[0, :3], atol=1e-5)


def test_missing_and_unexpected_tensors_are_reported_and_fatal_with_strict(tmp_path: Path) -> None:
    def edit(state):
        del state["trigger_detector.classifier.0.bias"]
        state["visual_encoder.extra.weight"] = torch.zeros(1)

    seed_checkpoint(tmp_path / "odd.pt", TriggerConfig(encoder="resnet18", **TINY), edit=edit)
    _, report = load_trigger_checkpoint(tmp_path / "odd.pt")
    assert report.missing == ("trigger_detector.classifier.0.bias",)
    assert report.unexpected == ("visual_encoder.extra.weight",)
    expected = (
        r"odd\.pt does not match the trigger model exactly: 1 tensors of the model are missing "
        r"\(e\.g\. trigger_detector\.classifier\.0\.bias\) and 1 tensors are unknown to it"
    )
    with pytest.raises(BadInputError, match=expected):
        load_trigger_checkpoint(tmp_path / "odd.pt", strict=True)


def _intro_checkpoint(path: Path) -> None:
    torch.save({"model_state_dict": {"pos_embed": torch.zeros(1, 60, 512), "head.weight": torch.zeros(1, 512)}}, path)


def _wrong_projection(path: Path) -> None:
    wrong = {"visual_encoder.projection.2.weight": torch.zeros(32, 100)}
    seed_checkpoint(path, TriggerConfig(encoder="resnet18", **TINY), edit=lambda state: state.update(wrong))


def _resnet34(path: Path) -> None:
    def edit(state):
        for key in [k for k in state if k.startswith("visual_encoder.backbone.5.1.")]:
            state[key.replace("backbone.5.1.", "backbone.5.2.")] = state[key]
    seed_checkpoint(path, TriggerConfig(encoder="resnet18", **TINY), edit=edit)


def _truncated(path: Path) -> None:
    seed_checkpoint(path, TriggerConfig(encoder="resnet18", **TINY))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _text(path: Path) -> None:
    path.write_text("not a checkpoint\n")


def _three_classes(path: Path) -> None:
    def edit(state):
        state["trigger_detector.classifier.3.weight"] = torch.zeros(3, 8)
        state["trigger_detector.classifier.3.bias"] = torch.zeros(3)
    seed_checkpoint(path, TriggerConfig(encoder="resnet18", **TINY), edit=edit)


@pytest.mark.parametrize(
    "make, message",
    [
        (_intro_checkpoint, r"is not a trigger-model checkpoint: it has no visual_encoder\.backbone tensors \(it has head, pos_embed\)"),
        (_wrong_projection, r"does not fit a resnet18 trigger model: visual_encoder\.projection\.2\.weight has shape "
                            r"\(32, 100\) where the model needs \(32, 64\)"),
        (_resnet34, r"ResNet backbone of basic blocks \[2, 3, 2, 2\], which is neither resnet18"),
        (_truncated, r"cannot read .*bad\.pt as a PyTorch checkpoint .*truncated"),
        (_text, r"cannot read .*bad\.pt as a PyTorch checkpoint"),
        (_three_classes, r"the trigger head has 3 classes"),
    ],
    ids=["wrong-model", "wrong-shape", "resnet34", "truncated", "text", "three-classes"],
)
def test_bad_checkpoints_fail_with_one_clear_line(tmp_path: Path, make, message: str) -> None:
    make(tmp_path / "bad.pt")
    with pytest.raises(BadInputError, match=message) as caught:
        load_trigger_checkpoint(tmp_path / "bad.pt")
    assert "\n" not in str(caught.value)


def test_efficientnet_needs_torchvision(tmp_path: Path) -> None:
    try:
        import torchvision  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("torchvision imports here; the guard is for machines without it")
    shapes = {
        "visual_encoder.backbone.0.0.0.weight": (32, 3, 3, 3),  # torchvision EfficientNet's features.0.0
        "visual_encoder.projection.5.weight": (512, 512),
        "trigger_detector.feature_projection.0.weight": (256, 512),
        "trigger_detector.classifier.3.weight": (2, 128),
    }
    torch.save({key: torch.zeros(shape) for key, shape in shapes.items()}, tmp_path / "effnet.pt")
    with pytest.raises(BadInputError, match="efficientnet_b0 encoder needs torchvision"):
        load_trigger_checkpoint(tmp_path / "effnet.pt")


def test_missing_checkpoint_is_a_missing_model(tmp_path: Path) -> None:
    with pytest.raises(MissingModelError, match=r"checkpoint .*absent\.pt does not exist"):
        load_trigger_checkpoint(tmp_path / "absent.pt")


def test_engine_build_reports_bad_checkpoints_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _truncated(tmp_path / "bad.pt")
    drop = "trigger_detector.classifier.0.bias"
    seed_checkpoint(tmp_path / "odd.pt", TriggerConfig(encoder="resnet18", **TINY), edit=lambda state: state.pop(drop))
    out = ["--out", str(tmp_path / "artifact")]
    with contextlib.redirect_stdout(io.StringIO()):
        assert engine_build(["--model", "trigger", "--checkpoint", str(tmp_path / "bad.pt"), *out]) == BadInputError.exit_code
        assert engine_build(["--model", "trigger", "--checkpoint", str(tmp_path / "odd.pt"), "--strict", *out]) == BadInputError.exit_code
        assert engine_build(["--model", "trigger", "--checkpoint", str(tmp_path / "absent.pt"), *out]) == MissingModelError.exit_code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("engine-build: ") for line in lines)
    assert "truncated" in lines[0] and "drop --strict" in lines[1] and "does not exist" in lines[2]
    assert not (tmp_path / "artifact").exists()
