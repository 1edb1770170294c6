"""engine-build end to end on tiny SigLIP/CLIP checkpoints: export, parity, manifest, errors."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from filmline import export
from filmline.engine.config import model_spec
from filmline.engine.errors import BackendError, MissingModelError
from filmline.export.cli import main

_HAS_TENSORRT = subprocess.run(
    [sys.executable, "-c", "import tensorrt"], capture_output=True
).returncode == 0


@pytest.fixture(scope="module")
def clip_build(tmp_path_factory, tiny_clip_dir) -> tuple[Path, str]:
    """A tiny CLIP artifact built with --out, and what engine-build printed."""
    out = tmp_path_factory.mktemp("artifacts") / "clip"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["--model", "clip-b32", "--weights", str(tiny_clip_dir), "--out", str(out)])
    assert code == 0, printed.getvalue()
    return out, printed.getvalue()


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_siglip_artifact_in_engine_home(tiny_siglip_home, tiny_siglip_dir):
    from tests.tiny_models import TINY_HIDDEN, TINY_IMAGE_SIZE

    folder = tiny_siglip_home / "siglip"
    manifest = export.read_manifest(folder)
    assert manifest["model"] == "siglip"
    assert manifest["weights"]["kind"] == "local"
    assert manifest["weights"]["source"] == str(tiny_siglip_dir.resolve())
    assert manifest["weights"]["revision"].startswith("sha256:")
    assert manifest["input"]["image_size"] == TINY_IMAGE_SIZE
    assert manifest["input"]["mean"] == [0.5, 0.5, 0.5]
    assert manifest["embedding_dim"] == TINY_HIDDEN
    assert manifest["output"]["from"] == "pooler_output"
    assert manifest["precision"] == "fp32"
    assert manifest["opset"] >= 17
    assert set(manifest["tools"]) >= {"torch", "transformers", "onnx", "onnxruntime"}
    assert manifest["built_at"] and manifest["format"] == 1
    parity = manifest["parity"]["onnxruntime"]
    assert parity["passed"] and parity["min_cosine"] > 0.9999 and parity["max_abs_error"] < 1e-4
    for name in manifest["files"].values():
        assert (folder / name).is_file()
    if not _HAS_TENSORRT:
        assert manifest["built"] == ["onnx"] and set(manifest["files"]) == {"onnx"}
    leftovers = [p.name for p in tiny_siglip_home.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_onnx_has_dynamic_batch(tiny_siglip_home):
    import onnx

    graph = onnx.load(str(tiny_siglip_home / "siglip" / "model.onnx")).graph
    batch_axis = graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_axis.dim_param and not batch_axis.dim_value
    assert graph.input[0].name == "pixel_values" and graph.output[0].name == "embeddings"


def test_clip_parity_and_projection(clip_build, tiny_clip_dir):
    from tests.tiny_models import TINY_CLIP_PROJECTION

    out, printed = clip_build
    manifest = export.read_manifest(out)
    assert manifest["embedding_dim"] == TINY_CLIP_PROJECTION  # image_embeds, not the hidden size
    assert manifest["output"]["from"] == "image_embeds"
    assert manifest["input"]["mean"] == pytest.approx([0.48145466, 0.4578275, 0.40821073])
    assert manifest["parity"]["onnxruntime"]["passed"]
    assert "onnxruntime (fp32) vs PyTorch: cosine min" in printed
    if not _HAS_TENSORRT:
        trt_lines = [line for line in printed.splitlines() if "TensorRT" in line]
        assert trt_lines == ["TensorRT is not installed: stopped at the fp32 ONNX (ONNX Runtime "
                             "runs it)"]


def test_second_build_reuses_and_force_rebuilds(clip_build, tiny_clip_dir, capsys):
    out, _ = clip_build
    onnx_file = out / "model.onnx"
    before = onnx_file.stat().st_mtime_ns
    hash_before = export.manifest_hash(out)
    args = ["--model", "clip-b32", "--weights", str(tiny_clip_dir), "--out", str(out)]
    assert main(args) == 0
    assert "up to date" in capsys.readouterr().out
    assert onnx_file.stat().st_mtime_ns == before
    assert export.manifest_hash(out) == hash_before

    assert main([*args, "--force"]) == 0
    assert "exporting ONNX" in capsys.readouterr().out
    assert onnx_file.stat().st_mtime_ns != before
    assert export.manifest_hash(out) != hash_before
    assert [p.name for p in out.parent.iterdir()] == ["clip"]  # no staging folders left


def test_damaged_artifact_is_rebuilt_not_reused(clip_build, tiny_clip_dir, capsys):
    out, _ = clip_build
    args = ["--model", "clip-b32", "--weights", str(tiny_clip_dir), "--out", str(out)]
    onnx_file = out / "model.onnx"
    data = bytearray(onnx_file.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit-pattern, same size, as a bad copy leaves it
    onnx_file.write_bytes(bytes(data))
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "up to date" not in printed and "exporting ONNX" in printed
    assert export.read_manifest(out)["sha256"]["model.onnx"] == hashlib.sha256(onnx_file.read_bytes()).hexdigest()
    assert main(args) == 0
    assert "up to date" in capsys.readouterr().out


def test_revision_follows_folder_content(tmp_path):
    """Same folder, new weights: the content hash (part of the build key) changes."""
    from tests.tiny_models import save_tiny_siglip

    weights = save_tiny_siglip(tmp_path / "w", seed=5)
    revision = export.locate_weights(model_spec("siglip"), weights).revision
    save_tiny_siglip(weights, seed=6)
    assert export.locate_weights(model_spec("siglip"), weights).revision != revision


def test_manifest_hash_is_short_and_stable(tiny_siglip_home):
    folder = tiny_siglip_home / "siglip"
    first = export.manifest_hash(folder)
    assert first == export.manifest_hash(folder) and len(first) == 12


def test_parity_failure_is_typed_and_leaves_nothing(tmp_path, tiny_siglip_dir, monkeypatch,
                                                      capsys):
    strict = dataclasses.replace(model_spec("siglip"), parity_min_cosine=1.5)
    monkeypatch.setattr("filmline.export.build.model_spec", lambda name: strict)
    out = tmp_path / "art"
    code = main(["--model", "siglip", "--weights", str(tiny_siglip_dir), "--out", str(out)])
    assert code == BackendError.exit_code
    assert "out of tolerance" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []  # the staging folder was removed, nothing renamed


def test_check_parity_catches_other_weights(tiny_siglip_home, tmp_path):
    """The ONNX of one checkpoint checked against another checkpoint's PyTorch model fails."""
    from filmline.engine.backends import open_model
    from filmline.export.build import image_export
    from filmline.export.validate import ParityError, check_parity
    from tests.tiny_models import save_tiny_siglip

    runner = open_model("siglip", "onnxruntime", home=tiny_siglip_home)
    spec = model_spec("siglip")
    other = export.load_encoder(spec, save_tiny_siglip(tmp_path / "o", seed=1))
    with pytest.raises(ParityError, match="out of tolerance"):
        check_parity(runner.run, image_export(other, spec.tolerance, "siglip"), backend="onnxruntime", precision="fp32")


def test_fp16_onnx_export_matches(tiny_siglip_dir, tmp_path):
    """The fp16 graph TensorRT >= 11 would build from: exported and checked on ONNX Runtime."""
    import torch

    from filmline.export.build import image_export
    from filmline.export.validate import check_parity

    spec = model_spec("siglip")
    encoder = export.load_encoder(spec, tiny_siglip_dir)
    config = image_export(encoder, spec.tolerance, "siglip")
    config.export(tmp_path / "m.onnx", dtype=torch.float16)
    parity = check_parity(config.run("onnxruntime", tmp_path / "m.onnx"), config, backend="onnxruntime", precision="fp16")
    assert parity.passed and parity.precision == "fp16"
    assert next(encoder.parameters()).dtype == torch.float32  # the reference stayed fp32


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--model", "nope"], 2, "unknown model 'nope': choose one of clip-b32, siglip, intro, trigger, transnetv2"),
        (["--model", "siglip", "--weights", "/no/such/dir"], 3, "does not exist"),
        (["--model", "siglip", "--weights", "filmline-tests/no-such-model"], 3, "HF_HUB_OFFLINE"),
        (["--model", "siglip", "--batch", "8:4:2"], 2, "invalid --batch"),
        (["--model", "siglip", "--batch", "x"], 2, "MIN:OPT:MAX"),
    ],
)
def test_bad_input_one_line(args, code, needle, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("ENGINE_HOME", str(tmp_path))
    assert main(args) == code
    err = _one_line_error(capsys)
    assert err.startswith("engine-build: ") and needle in err


def test_wrong_family_folder(tiny_clip_dir, capsys, tmp_path):
    out = tmp_path / "a"
    assert main(["--model", "siglip", "--weights", str(tiny_clip_dir), "--out", str(out)]) == 2
    assert "not siglip" in _one_line_error(capsys)


def test_unwritable_out(tiny_siglip_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker / "artifact"
    weights = ["--model", "siglip", "--weights", str(tiny_siglip_dir)]
    assert main([*weights, "--out", str(out)]) == 5
    assert "is a file" in _one_line_error(capsys)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main([*weights, "--out", str(foreign)]) == 5
    assert "not an artifact folder" in _one_line_error(capsys)


def test_debug_shows_traceback(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ENGINE_HOME", str(tmp_path))
    assert main(["--model", "siglip", "--weights", "/no/such/dir", "--debug"]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_default_hub_id_fails_fast_offline(monkeypatch):
    from huggingface_hub import try_to_load_from_cache

    spec = model_spec("siglip")
    if isinstance(try_to_load_from_cache(spec.source, "config.json"), str):
        pytest.skip(f"{spec.source} is in this machine's Hugging Face cache")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(MissingModelError, match="--weights DIR"):
        export.load_encoder(spec)
    assert time.monotonic() - started < 10  # the hub client's own retries take ~25 s


def test_help_is_instant_and_light():
    code = (
        "import sys; from export.cli import main\n"
        "try: main(['--help'])\nexcept SystemExit: pass\n"
        "print(sorted(m for m in ('torch', 'transformers', 'onnx') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).parent.parent, check=True)
    assert "--precision {fp32,fp16}" in result.stdout
    assert result.stdout.strip().endswith("[]")
