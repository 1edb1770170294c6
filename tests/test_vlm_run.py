"""`engine-run --vlm …` end to end on a film the tests write: labels, captions, summary, profile,
failures, the cache, --vlm-max-shots, the flags; against a localhost chat-completions server and a
tiny LLaVA checkpoint with random weights."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from filmline.benchmarks.synthetic import GroundTruth, write_film
from filmline.engine.cli import main as engine_run
from filmline.engine.config import read_config
from tests.chat_server import ChatServer, Received, Reply, chat_server, closed_port, completion, error  # noqa: F401

pytestmark = pytest.mark.usefixtures("offline_home")  # no artifacts, no hub

# Five shots of 2, 1.6, 3, 1 and 2.4 s, entered by cuts: at --fps 1 each has a sampled frame.
SHOT_FRAMES = [50, 40, 75, 25, 60]
FIGHT, PURSUIT, NONE = -1.2, -0.5, -3.0  # the server's first-token log-probabilities


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> GroundTruth:
    return write_film(tmp_path_factory.mktemp("vlm-film") / "film.mkv", SHOT_FRAMES, size=(240, 136), seed=5)


def scripted(request: Received, nth: int) -> Reply:
    """Scores favour Pursuit, then Fight; captions say how many frames they saw; summaries are fixed."""
    if request.body.get("logprobs"):
        return completion("Pursuit", top_logprobs=[("Pursuit", PURSUIT), ("F", FIGHT), ("none", NONE)])
    if request.images:
        return completion(f"A chase seen in {len(request.images)} frames.")
    return completion("The whole film.")


def run(film: GroundTruth, out: Path, capsys, *flags: str) -> tuple[int, dict | None, str]:
    code = engine_run([film.path, "--out", str(out), "--backend", "none", "--no-progress", *flags])
    err = capsys.readouterr().err
    result = out / "film.json"
    return code, json.loads(result.read_text()) if result.exists() else None, err


def openai_flags(server: ChatServer) -> list[str]:
    return ["--vlm", "openai", "--vlm-url", server.url, "--vlm-model", "test-model"]


def test_scored_labels_captions_summary_and_profile_over_http(film, chat_server, tmp_path, capsys) -> None:
    chat_server.responder = scripted
    code, document, _ = run(film, tmp_path, capsys, *openai_flags(chat_server))
    assert code == 0
    shots = document["shots"]
    assert len(shots) == len(SHOT_FRAMES)
    ratio = math.exp(PURSUIT - FIGHT)
    for shot in shots:
        probabilities = shot["label_probabilities"]
        assert set(probabilities) == set(read_config("vlm.yaml")["categories"])
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-3)  # each to 4 decimals
        assert probabilities["Pursuit"] / probabilities["Fight"] == pytest.approx(ratio, rel=1e-3)  # 4 decimals
        assert shot["labels"] == ["Pursuit", "Fight"] and shot["label_method"] == "logprobs"
        assert shot["key_frame"] in shot["vlm_frames"]
        assert all(shot["start_frame"] <= f <= shot["end_frame"] for f in shot["vlm_frames"])
        assert shot["caption"] == f"A chase seen in {len(shot['vlm_frames'])} frames."
        assert shot["vlm_error"] is None
    images = [r.images for r in chat_server.requests if r.images]
    assert all(1 <= len(i) <= 3 and i[0].shape == (136, 240, 3) for i in images)  # never upscaled to 672
    assert document["summary"] == "The whole film."
    vlm = document["vlm"]
    assert vlm["status"] == "ran" and vlm["actions"]["method"] == "logprobs" and vlm["failed_total"] == 0
    assert vlm["requests"]["requests"] == len(chat_server.requests) == 2 * len(shots) + 1
    assert document["models"]["vlm"]["backend"] == "openai"
    minute = document["action_profile"]["minutes"][0]
    assert minute["shares"]["Pursuit"] == pytest.approx(1.0) and minute["unlabelled"] == 0
    [sequence] = document["action_profile"]["sequences"]
    assert sequence["shots"] == [s["index"] for s in shots] and set(sequence["dominant"]) == {"Pursuit", "Fight"}
    assert document["timings"]["vlm"] > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # the kept frames are gone

    before = len(chat_server.requests)
    # the result is up to date, so a plain rerun keeps it; --force analyses again, answered from the cache
    code, again, _ = run(film, tmp_path, capsys, *openai_flags(chat_server), "--force")
    assert code == 0 and len(chat_server.requests) == before  # every answer came from the cache
    assert again["vlm"]["requests"]["requests"] == 0 and again["vlm"]["cache"]["hits"] == before
    assert [s["caption"] for s in again["shots"]] == [s["caption"] for s in shots]


def test_without_logprobs_answers_are_constrained_and_failures_are_recorded(film, chat_server, tmp_path, capsys) -> None:
    def responder(request: Received, nth: int) -> Reply:
        if request.body.get("logprobs"):
            return completion("Escape")  # a server that ignores logprobs
        if "categories" in request.text:
            return completion("Escape, a rescue maybe" if nth == 0 else "rescue,  Escape.")
        if request.images:
            return error(400, "image too large") if nth == 0 else completion("Someone runs.")
        return completion("Summary.")

    chat_server.responder = responder
    code, document, err = run(film, tmp_path, capsys, *openai_flags(chat_server))
    assert code == 0 and "warning: film.mkv: 2 vision-language questions got no answer (labels 1, captions 1)" in err
    shots = document["shots"]
    failed_labels = [s for s in shots if s["labels"] is None]
    assert len(failed_labels) == 1
    assert failed_labels[0]["label_answer"] == "Escape, a rescue maybe"
    assert "not one of the categories" in failed_labels[0]["vlm_error"]["labels"]
    for shot in shots:
        if shot["labels"] is not None:
            assert shot["labels"] == ["Escape", "Rescue"] and shot["label_method"] == "constrained"
            assert shot["label_probabilities"] == {n: float(n in ("Escape", "Rescue")) for n in shot["label_probabilities"]}
    failed_captions = [s for s in shots if s["caption"] is None]
    assert len(failed_captions) == 1 and "HTTP 400: image too large" in failed_captions[0]["vlm_error"]["caption"]
    vlm = document["vlm"]
    assert vlm["actions"]["method"] == "constrained"
    assert vlm["failed"]["labels"] == 1 and vlm["failed"]["captions"] == 1 and vlm["failed_total"] == 2
    assert document["summary"] == "Summary."
    assert document["action_profile"]["minutes"][0]["unlabelled"] > 0  # the failed shot's time


def test_max_shots_sends_the_longest_and_lists_the_others(film, chat_server, tmp_path, capsys) -> None:
    chat_server.responder = scripted
    code, document, _ = run(film, tmp_path, capsys, *openai_flags(chat_server), "--vlm-max-shots", "2",
                            "--vlm-tasks", "captions")
    assert code == 0
    shots = document["shots"]
    longest = sorted(sorted(shots, key=lambda s: -s["duration"])[:2], key=lambda s: s["index"])
    sent = document["vlm"]["shots"]
    assert sent["sent"] == 2 and sent["chosen_by"] == "longest first"
    assert sent["skipped"] == sorted(s["index"] for s in shots if s not in longest)
    assert [s["index"] for s in shots if s["caption"]] == [s["index"] for s in longest]
    assert sum(1 for r in chat_server.requests if r.images) == 2
    assert "labels" not in shots[0] and document["action_profile"] is None


def test_the_config_file_decides_categories_prompts_and_image_width(film, chat_server, tmp_path, capsys) -> None:
    raw = read_config("vlm.yaml")
    raw["categories"] = {"Dance": "people dancing", "Cooking": "someone cooking", "other": "anything else"}
    raw["none_category"] = "other"
    raw["captions"]["prompt"] = "Name the colours."
    raw["images"]["width"] = 120
    config = tmp_path / "mine.yaml"
    config.write_text(yaml.safe_dump(raw))

    def responder(request: Received, nth: int) -> Reply:
        if request.body.get("logprobs"):
            return completion("D", top_logprobs=[("D", -0.1), ("C", -3.0), ("other", -4.0)])
        return completion("Red." if request.images else "Sum.")

    chat_server.responder = responder
    code, document, _ = run(film, tmp_path / "out", capsys, *openai_flags(chat_server), "--vlm-config", str(config))
    assert code == 0
    assert {tuple(s["labels"]) for s in document["shots"]} == {("Dance",)}
    assert set(document["shots"][0]["label_probabilities"]) == {"Dance", "Cooking", "other"}
    texts = {r.text for r in chat_server.requests if r.images}
    assert "Name the colours." in texts
    assert any("- Dance: people dancing" in t and "Fight" not in t for t in texts)
    assert {r.images[0].shape for r in chat_server.requests if r.images} == {(68, 120, 3)}  # 120 wide, aspect kept


def test_a_tiny_llava_labels_captions_and_summarises_and_a_rerun_costs_nothing(film, tiny_llava_dir, tmp_path, capsys) -> None:
    flags = ["--vlm", "transformers", "--vlm-model", str(tiny_llava_dir), "--fps", "0.5"]
    code, document, err = run(film, tmp_path, capsys, *flags)
    assert code == 0
    assert "Loading weights" not in err  # --no-progress quiets the model loader's bar too
    vlm = document["vlm"]
    assert vlm["actions"]["method"] == "logprobs" and vlm["failed_total"] == 0
    for shot in document["shots"]:
        assert sum(shot["label_probabilities"].values()) == pytest.approx(1.0, abs=1e-3)  # each to 4 decimals
        assert shot["labels"] and set(shot["labels"]) <= set(shot["label_probabilities"])
        assert isinstance(shot["caption"], str)
    assert isinstance(document["summary"], str)
    assert document["action_profile"]["minutes"][0]["unlabelled"] == 0
    assert document["models"]["vlm"]["backend"] == "transformers"
    assert vlm["requests"]["requests"] > 0

    code, again, _ = run(film, tmp_path, capsys, *flags, "--force")
    assert code == 0 and again["vlm"]["requests"]["requests"] == 0
    assert [s["label_probabilities"] for s in again["shots"]] == [s["label_probabilities"] for s in document["shots"]]


def test_without_vlm_the_stage_is_skipped_with_a_note(film, tmp_path, capsys) -> None:
    code, document, err = run(film, tmp_path, capsys)
    assert code == 0
    assert document["vlm"]["status"] == "skipped" and document["summary"] is None
    assert "note: vlm skipped" in err and "--vlm transformers" in err
    assert "labels" not in document["shots"][0]
    code, document, err = run(film, tmp_path, capsys, "--vlm", "none")
    assert document["vlm"] == {"status": "skipped", "reason": "disabled with --vlm none"} and "note: vlm" not in err


@pytest.mark.parametrize("flags, message", [
    (["--vlm", "openai", "--vlm-model", "m"], "--vlm openai needs --vlm-url"),
    (["--vlm", "transformers"], "--vlm transformers needs --vlm-model"),
    (["--vlm-model", "x"], "--vlm-model needs a vision-language backend"),
    (["--vlm", "openai", "--vlm-url", "localhost:8000", "--vlm-model", "m"], "is not an http(s) URL"),
    (["--vlm", "transformers", "--vlm-model", "x", "--vlm-tasks", "actions,poems"], "--vlm-tasks"),
    (["--vlm", "transformers", "--vlm-model", "x", "--vlm-max-shots", "0"], "--vlm-max-shots must be >= 1"),
])
def test_bad_flags_fail_in_one_line_before_anything_runs(film, tmp_path, capsys, flags, message) -> None:
    code, document, err = run(film, tmp_path, capsys, *flags)
    assert code == 2 and message in err and document is None
    assert len(err.strip().splitlines()) == 1


def test_a_missing_model_fails_before_decoding(film, tmp_path, capsys) -> None:
    code, document, err = run(film, tmp_path, capsys, "--vlm", "transformers", "--vlm-model", str(tmp_path / "nothing"))
    assert code == 3 and document is None and "nothing" in err
    assert not list(tmp_path.glob("film*"))


def test_a_server_that_is_down_fails_before_decoding(film, tmp_path, capsys) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    code, document, err = run(film, tmp_path, capsys, "--vlm", "openai", "--vlm-url", url, "--vlm-model", "test-model")
    assert code == 3 and document is None and url in err and "does not answer" in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*film*"))  # no key frames, no frames kept for the model: nothing decoded


def test_each_trigger_is_described_from_its_own_frame_and_summarised(film, chat_server, tmp_path) -> None:
    """The stage as engine-run wires it when the trigger stage runs at 3 frames/s: the trigger
    rate is tapped too, so the frame the trigger model flagged is the one described."""
    from filmline.engine.cli import build_parser
    from filmline.engine.decode import sample_indices
    from filmline.engine.document import build_document
    from filmline.engine.pipeline import analyze_video
    from filmline.engine.run_settings import build_run_settings
    from filmline.engine.sections import ModelReport, Sections, ShotsSection, TriggersSection
    from filmline.engine.stage import VideoStart
    from filmline.engine.stages.triggers import Trigger, TriggerResult, TriggerSettings
    from filmline.engine.vlm.config import VlmConfig
    from filmline.engine.vlm.options import VlmOptions
    from filmline.engine.vlm.stage import VlmStage

    chat_server.responder = lambda request, nth: completion(
        f"{len(request.images)} image {request.images[0].shape}" if request.images else "Two moments.")
    args = build_parser().parse_args([film.path, *openai_flags(chat_server), "--vlm-tasks", "triggers"])
    settings = build_run_settings(args).shots
    stage = VlmStage.open(VlmOptions.from_args(args), VlmConfig.load(), fps=settings.fps, trigger_fps=3.0)
    taps = stage.start_video(VideoStart(Path(film.path), tmp_path))
    analysis = analyze_video(Path(film.path), settings, None, tmp_path, taps=taps)
    at_three = sample_indices(analysis.seconds, 3.0)
    flagged = [at_three[4], at_three[20]]  # frames only the 3 frames/s sampler picks
    assert not set(flagged) & set(sample_indices(analysis.seconds, 1.0))
    found = TriggerResult(len(at_three), [Trigger(float(analysis.seconds[i]), i, 0.9) for i in flagged],
                          TriggerSettings.from_config(fps=3.0), {}, 0.0)
    done = Sections(shots=ShotsSection(analysis, settings, ModelReport()), triggers=TriggersSection(found, ModelReport()))
    done = done.adding(stage.finish_video(done))
    stage.end_video()
    stage.close()
    document = build_document(Path(film.path), done, {}, 1.0)
    triggers = document["triggers"]
    assert [t["vlm_frame"] for t in triggers["triggers"]] == flagged
    assert all(t["analysis"] == "1 image (136, 240, 3)" and t["vlm_error"] is None for t in triggers["triggers"])
    assert triggers["video_summary"] == "Two moments." and triggers["vlm"] == "ran"
    summary_prompt = [r.text for r in chat_server.requests if not r.images][0]
    assert "[00:00:01] 1 image" in summary_prompt and summary_prompt.index("[00:00:01]") < summary_prompt.index("[00:00:06]")
    assert document["vlm"]["triggers"]["analysed"] == 2 and "labels" not in document["shots"][0]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_video_that_fails_in_its_decode_takes_its_kept_frames_with_it(film, truncated_film, chat_server,
                                                                         tmp_path, capsys) -> None:
    """Frames are kept for the model while a video decodes; one found truncated at the end of its
    decode fails alone, its kept frames are deleted, and the next video is still labelled."""
    chat_server.responder = scripted
    code = engine_run([truncated_film.path, film.path, "--out", str(tmp_path), "--backend", "none", "--no-progress",
                       *openai_flags(chat_server)])
    assert code != 0 and "looks truncated" in capsys.readouterr().err
    assert not (tmp_path / "truncated.json").exists()
    assert "Pursuit" in json.loads((tmp_path / "film.json").read_text())["shots"][0]["labels"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
