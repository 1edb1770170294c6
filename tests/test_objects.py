"""Objects on trigger frames: DETR and RT-DETR built from tiny random-weight models saved the way
a user's weights are (save_pretrained folders), exported with parity, opened at run time, and run
by engine-run on each kept trigger's frame, with the boxes in source pixels in the result and
drawn in the report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from filmline.benchmarks.synthetic import Shot, write_film
from filmline.engine.config import read_config
from filmline.engine.stages.objects import ObjectSettings, objects_from_output
from filmline.export.cli import main as engine_build

LABELS = {0: "person", 1: "car", 2: "dog"}
SIZE = 64  # the detectors' input side, stated in the folders' preprocessor_config.json
# RT-DETR's queries are its encoder's top-scoring places; random heads score them about alike, and
# which near-equal place makes the cut differed between ONNX Runtime and PyTorch (its arithmetic
# agreed to 1e-7 wherever the same places were picked). So the tiny RT-DETR takes every place of a
# 64-px input (8x8 + 4x4 + 2x2) and parity compares what the graph computes, not a tie-break.
RTDETR_PLACES = 84
BOX = (0.25, 0.5, 0.2, 0.4)  # cx, cy, w, h relative: what the geometry detector reports


def save_tiny_detector(folder: Path, family: str, *, queries: int = 5, fixed_box: bool = False) -> Path:
    """A tiny random-weight DETR or RT-DETR (ResNet backbone from a config, nothing downloaded),
    saved with save_pretrained and an image processor config, as a user's folder would be.
    `fixed_box`: DETR's heads set to report one `car` at BOX whatever the picture."""
    from transformers import (DetrConfig, DetrForObjectDetection, ResNetConfig, RTDetrConfig,
                              RTDetrForObjectDetection, RTDetrResNetConfig)

    torch.manual_seed(0)
    backbone = dict(embedding_size=8, hidden_sizes=[8, 16, 16, 16], depths=[1, 1, 1, 1], layer_type="basic")
    if family == "detr":
        config = DetrConfig(use_timm_backbone=False, use_pretrained_backbone=False,
                            backbone_config=ResNetConfig(**backbone, out_features=["stage4"]), d_model=32,
                            encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                            encoder_ffn_dim=32, decoder_ffn_dim=32, num_queries=queries, id2label=LABELS)
        model = DetrForObjectDetection(config).eval()
        if fixed_box:
            with torch.no_grad():
                model.class_labels_classifier.weight.zero_()
                model.class_labels_classifier.bias.copy_(torch.tensor([0.0, 9.0, 0.0, 0.0]))  # car, then "no object"
                last = model.bbox_predictor.layers[-1]
                last.weight.zero_()
                last.bias.copy_(torch.logit(torch.tensor(BOX)))
    else:
        config = RTDetrConfig(use_pretrained_backbone=False, d_model=32, encoder_hidden_dim=32,
                              backbone_config=RTDetrResNetConfig(**backbone, out_features=["stage2", "stage3", "stage4"]),
                              encoder_in_channels=[16, 16, 16], decoder_in_channels=[32, 32, 32], encoder_ffn_dim=32,
                              encoder_attention_heads=2, decoder_layers=1, decoder_ffn_dim=32, decoder_attention_heads=2,
                              decoder_n_points=2, num_queries=RTDETR_PLACES, id2label=LABELS)
        model = RTDetrForObjectDetection(config).eval()
    model.save_pretrained(folder)
    processor = {"size": {"height": SIZE, "width": SIZE}, "do_normalize": family == "detr",
                 "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
    (folder / "preprocessor_config.json").write_text(json.dumps(processor))
    return folder


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ENGINE_HOME with both detectors built by engine-build (module-wide: the exports take seconds)."""
    root = tmp_path_factory.mktemp("objects")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ENGINE_HOME", str(root / "home"))
        patch.setenv("HF_HUB_OFFLINE", "1")
        for family in ("detr", "rtdetr"):
            weights = save_tiny_detector(root / family, family)
            assert engine_build(["--model", family, "--weights", str(weights)]) == 0
    return root / "home"


@pytest.mark.slow  # the module's two builds: about a minute of ONNX export (torch.export tracing)
@pytest.mark.parametrize("family", ["detr", "rtdetr"])
def test_build_exports_with_parity_and_a_manifest(home: Path, family: str, monkeypatch, capsys) -> None:
    manifest = json.loads((home / family / "manifest.json").read_text())
    assert manifest["parity"]["onnxruntime"]["passed"] and manifest["parity"]["onnxruntime"]["max_abs_error"] < 1e-3
    assert manifest["labels"] == ["person", "car", "dog"]
    assert manifest["input"]["shape"] == [1, 3, SIZE, SIZE] and (home / family / "model.onnx").is_file()
    assert manifest["input"]["mean"] == ([0.485, 0.456, 0.406] if family == "detr" else [0.0, 0.0, 0.0])
    monkeypatch.setenv("ENGINE_HOME", str(home))
    capsys.readouterr()
    assert engine_build(["--model", family, "--weights", manifest["weights"]["source"]]) == 0
    assert "up to date" in capsys.readouterr().out  # same folder, same tools: reused


@pytest.mark.slow
def test_onnx_runtime_and_pytorch_give_the_same_objects(home: Path) -> None:
    """The same frame through the built graph and through PyTorch (the weights the manifest
    names), both opened by the model layer, post-processed alike: same labels, scores and boxes."""
    from filmline.engine.model_setup import open_objects

    frame = np.random.default_rng(1).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    for family in ("detr", "rtdetr"):
        graph, torch_model = (open_objects(family, backend=b, home=home).model for b in ("onnxruntime", "torch"))
        assert (graph.runner.name, torch_model.runner.name) == ("onnxruntime", "torch")
        everything = ObjectSettings(score_threshold=0.0, max_objects=100)
        expected = torch_model.detect([frame], everything)[0]
        got = graph.detect([frame], everything)[0]
        assert len(got) == len(expected) == (5 if family == "detr" else RTDETR_PLACES)  # one per query
        by_place = lambda found: sorted(found, key=lambda o: (round(o["box"][0]), round(o["box"][1]), -o["score"]))  # noqa: E731
        for a, b in zip(by_place(got), by_place(expected)):  # the queries are a set (see export/detr.py)
            assert a["label"] == b["label"] and a["score"] == pytest.approx(b["score"], abs=1e-3)
            assert np.allclose(a["box"], b["box"], atol=0.5)
            assert 0 <= a["box"][0] <= a["box"][2] <= 160 and 0 <= a["box"][1] <= a["box"][3] <= 90


@pytest.mark.slow
def test_auto_prefers_rtdetr_and_a_missing_detector_is_skipped_with_the_build(home: Path, tmp_path: Path) -> None:
    from filmline.engine.model_setup import open_objects

    opened = open_objects("auto", home=home)
    assert opened.model.family == "rtdetr" and opened.report.entries["objects"]["name"] == "rtdetr"
    assert open_objects("none", home=home) is None
    missing = open_objects("auto", home=tmp_path / "empty")
    (skipped,) = missing.report.skipped
    assert missing.model is None and skipped.stage == "objects" and "engine-build --model rtdetr --weights" in skipped.fix


@pytest.mark.slow
def test_weights_of_the_other_family_are_one_line(home: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ENGINE_HOME", str(tmp_path / "home"))
    detr = json.loads((home / "detr" / "manifest.json").read_text())["weights"]["source"]
    assert engine_build(["--model", "rtdetr", "--weights", detr]) != 0
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "holds a detr model" in error and "--model detr" in error
    assert not (tmp_path / "home" / "rtdetr").exists()


def test_boxes_map_onto_source_pixels() -> None:
    """Relative (cx, cy, w, h) → pixels of a non-square frame; clipped at the edges; threshold
    and order by score; at most max_objects."""
    output = np.array([[0.1, 0.7, 0.1, 0.5, 0.5, 0.2, 0.4],
                       [0.9, 0.0, 0.0, 0.95, 0.1, 0.2, 0.4],   # sticks out at the right and the top
                       [0.2, 0.3, 0.1, 0.5, 0.5, 1.0, 1.0]], dtype=np.float32)
    found = objects_from_output(output, 320, 180, ["person", "car", "dog"], ObjectSettings(score_threshold=0.5))
    assert [o["label"] for o in found] == ["person", "car"]
    assert found[0]["box"] == [pytest.approx(272.0), 0.0, 320.0, pytest.approx(54.0)]
    assert found[1]["box"] == [pytest.approx(128.0), pytest.approx(54.0), pytest.approx(192.0), pytest.approx(126.0)]
    assert len(objects_from_output(output, 320, 180, ["person", "car", "dog"], ObjectSettings(0.0, 1))) == 1


@pytest.mark.slow
def test_engine_run_puts_objects_on_trigger_frames_and_the_report_draws_them(tmp_path: Path, monkeypatch, capsys) -> None:
    """A DETR whose heads report one car at BOX, and a tiny trigger model at threshold 0: every
    kept trigger carries that car in source pixels, its frame is saved, the report draws the box."""
    from filmline.engine.cli import main as engine_run
    from filmline.engine.models.trigger import TriggerConfig, TriggerModel
    from filmline.engine.models.trigger_checkpoint import save_trigger_checkpoint

    monkeypatch.setenv("ENGINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    trigger = TriggerModel(TriggerConfig(encoder="resnet18", width=4, feature_dim=16, hidden_dim=8, image_size=64)).eval()
    save_trigger_checkpoint(tmp_path / "trigger.pt", trigger, epoch=1, loss=0.0, metadata={})
    assert engine_build(["--model", "trigger", "--checkpoint", str(tmp_path / "trigger.pt")]) == 0
    film = tmp_path / "film.mp4"
    write_film(film, [Shot(40), Shot(40)], size=(320, 176), seed=5)
    run = [str(film), "--out", str(tmp_path / "out"), "--backend", "none", "--detector", "cheap",
           "--trigger-fps", "2", "--trigger-threshold", "0", "--force"]
    assert engine_run(run) == 0  # no detector built: the stage is skipped, the triggers stay as they were
    document = json.loads((tmp_path / "out" / "film.json").read_text())
    (skipped,) = [s for s in document["models"]["skipped"] if s["stage"] == "objects"]
    assert "engine-build --model rtdetr" in skipped["fix"] and "objects" not in document["models"]
    assert document["triggers"]["triggers"] and "objects" not in document["triggers"]
    assert all(set(t) == {"timestamp", "frame_index", "trigger_confidence", "analysis"} for t in document["triggers"]["triggers"])

    weights = save_tiny_detector(tmp_path / "detr", "detr", queries=1, fixed_box=True)
    assert engine_build(["--model", "detr", "--weights", str(weights)]) == 0
    capsys.readouterr()
    assert engine_run(run) == 0
    document = json.loads((tmp_path / "out" / "film.json").read_text())
    section = document["triggers"]
    defaults = read_config("objects.yaml")["run"]
    assert section["objects"] == {"detector": "detr", "score_threshold": defaults["score_threshold"],
                                  "max_objects": defaults["max_objects"]}
    assert document["models"]["objects"]["backend"] == "onnxruntime"
    assert not [s for s in document["models"]["skipped"] if s["stage"] == "objects"]
    cx, cy, w, h = BOX
    expected = [(cx - w / 2) * 320, (cy - h / 2) * 176, (cx + w / 2) * 320, (cy + h / 2) * 176]
    assert section["triggers"]
    for trigger in section["triggers"]:
        (car,) = trigger["objects"]
        assert car["label"] == "car" and car["score"] > 0.99
        assert car["box"] == pytest.approx(expected, abs=0.1)
        image = tmp_path / "out" / trigger["image"]
        assert image.is_file() and image.parent.name == "film.keyframes"
    report = (tmp_path / "out" / "film.html").read_text()
    first = section["triggers"][0]
    assert f'href="{first["image"]}"' in report and 'class="object"' in report
    assert f'x="{expected[0]:.1f}"' in report and f'width="{expected[2] - expected[0]:.1f}"' in report
    assert document["timings"]["objects"] > 0 and not math.isnan(document["timings"]["objects"])


def test_the_builder_takes_weights_and_the_detector_choice_is_checked(tmp_path: Path, monkeypatch, capsys) -> None:
    """engine-build's generic dispatch reaches the detector builder, which refuses --checkpoint
    before loading anything; an unknown run.detector names the valid ones."""
    from filmline.engine.errors import BadInputError
    from filmline.engine.model_setup import open_objects

    monkeypatch.setenv("ENGINE_HOME", str(tmp_path / "home"))
    assert engine_build(["--model", "rtdetr", "--checkpoint", str(tmp_path / "x.pt")]) != 0
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "--checkpoint does not apply to --model rtdetr" in error
    assert not (tmp_path / "home").exists()
    with pytest.raises(BadInputError, match="auto, rtdetr, detr, none"):
        open_objects("yolo", home=tmp_path / "home")
