"""`engine-run` over a library on a real local Ray instance (two CPUs, shared by the tests):
the same shots as the sequential run, a killed worker's film retried and written once, an
interrupted run resumed with only the unfinished films, bad input recorded failed at once, a
second run on the folder refused, and one line for Ray missing or an address that is not there."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from filmline.benchmarks.synthetic import Shot, write_film
from filmline.engine.cli import main as engine_run
from filmline.engine.library.journal import JOURNAL, library_lock
from tests.chat_server import ChatServer, Received, Reply, chat_server, completion  # noqa: F401

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'filmline[cluster]'")

CHEAP = ["--detector", "cheap", "--backend", "none", "--quiet"]


@pytest.fixture(scope="module", autouse=True)
def local_ray(tmp_path_factory: pytest.TempPathFactory):
    """One Ray instance for the whole file (starting one costs seconds); engine-run joins it. Its
    actors keep what they cache (the answers of the vision-language model) in a home of their own."""
    home = str(tmp_path_factory.mktemp("actors-home"))
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"ENGINE_HOME": home, "HF_HUB_OFFLINE": "1"}})
    yield Path(home)
    ray.shutdown()


@pytest.fixture(scope="module")
def films(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Six small films of 2 to 4 s, each with its own cuts."""
    folder = tmp_path_factory.mktemp("library")
    return [Path(write_film(folder / f"film{i}.mkv", [Shot(20 + 5 * i), Shot(25), Shot(30 - 2 * i)],
                            size=(160, 96), seed=i).path) for i in range(6)]


def _journal(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / JOURNAL).read_text().splitlines()]


def _last_states(out: Path) -> dict[str, dict]:
    return {Path(entry["path"]).name: entry for entry in _journal(out)}


def _shots(out: Path, film: Path) -> list[dict]:
    return json.loads((out / f"{film.stem}.json").read_text())["shots"]


def _watch_journal(out: Path, until, act) -> threading.Thread:
    """Calls `act(entry)` once, for the first journal entry `until(entry)` holds for."""
    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                entries = _journal(out)
            except (OSError, ValueError):
                entries = []
            hit = next((e for e in entries if until(e)), None)
            if hit is not None:
                act(hit)
                return
            time.sleep(0.01)
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_two_workers_give_the_shots_of_the_sequential_run(films: list[Path], tmp_path: Path) -> None:
    assert engine_run([*map(str, films), "--out", str(tmp_path / "seq"), *CHEAP]) == 0
    assert engine_run([*map(str, films), "--out", str(tmp_path / "lib"), "--workers", "2", *CHEAP]) == 0
    for film in films:
        assert _shots(tmp_path / "lib", film) == _shots(tmp_path / "seq", film)
    states = _last_states(tmp_path / "lib")
    assert {name: (e["state"], e["attempts"]) for name, e in states.items()} == {f.name: ("done", 1) for f in films}
    assert len({e["worker_pid"] for e in _journal(tmp_path / "lib") if "worker_pid" in e}) == 2  # both actors worked


def test_a_killed_worker_has_its_film_retried_and_written_once(films: list[Path], tmp_path: Path,
                                                               tmp_path_factory: pytest.TempPathFactory) -> None:
    long_film = Path(write_film(tmp_path_factory.mktemp("long") / "long.mkv", [Shot(150)] * 8, size=(160, 96), seed=9).path)
    out = tmp_path / "out"
    killed: list[int] = []

    def kill(entry: dict) -> None:
        os.kill(entry["worker_pid"], signal.SIGKILL)
        killed.append(entry["worker_pid"])

    watcher = _watch_journal(out, lambda e: e["path"].endswith("long.mkv") and e["state"] == "in progress", kill)
    assert engine_run([str(long_film), *map(str, films[:2]), "--out", str(out), "--workers", "2", *CHEAP]) == 0
    watcher.join()
    assert killed
    long_entries = [e for e in _journal(out) if e["path"].endswith("long.mkv")]
    assert [(e["state"], e["attempts"]) for e in long_entries][-1] == ("done", 2)
    assert long_entries[-1]["worker_pid"] != killed[0]  # another actor finished it
    assert len(_shots(out, long_film)) == 8
    names = sorted(p.name for p in out.iterdir())
    assert [n for n in names if n.endswith(".json")] == ["film0.json", "film1.json", "long.json"]
    assert not [n for n in names if n.endswith(".tmp")]  # no half-written file left by the killed attempt


def test_an_interrupted_run_resumes_with_only_the_unfinished_films(films: list[Path], tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = [*map(str, films), "--out", str(out), "--workers", "2", *CHEAP]
    _watch_journal(out, lambda e: e["state"] == "done", lambda _: os.kill(os.getpid(), signal.SIGINT))
    assert engine_run(args) == 130  # a real Ctrl-C to this process, the driver
    assert "interrupted" in capsys.readouterr().err
    first = _last_states(out)
    done_first = {name for name, e in first.items() if e["state"] == "done"}
    assert done_first and len(done_first) < len(films)
    lines_before = len(_journal(out))
    assert engine_run(args) == 0
    ran_again = {Path(e["path"]).name for e in _journal(out)[lines_before:]}
    assert ran_again == {f.name for f in films} - done_first
    assert all(e["state"] == "done" for e in _last_states(out).values())


def test_a_bad_file_is_recorded_failed_at_once_and_the_others_done(films: list[Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(b"not a video at all")
    out = tmp_path / "out"
    args = [str(bad), str(films[0]), "--out", str(out), "--workers", "2", *CHEAP]
    assert engine_run(args) == 2
    states = _last_states(out)
    assert (states["bad.mkv"]["state"], states["bad.mkv"]["attempts"]) == ("failed", 1)
    assert "not a readable video" in states["bad.mkv"]["error"]
    assert states[films[0].name]["state"] == "done"
    assert not (out / "bad.json").exists()
    lines = len(_journal(out))
    assert engine_run(args) == 2  # still failed, and not tried again ...
    assert len(_journal(out)) == lines
    assert engine_run([*args, "--retry-failed"]) == 2  # ... unless asked
    assert _last_states(out)["bad.mkv"]["attempts"] == 1 and len(_journal(out)) == lines + 2


def _answers(request: Received, nth: int) -> Reply:
    if request.body.get("logprobs"):
        return completion("Pursuit", top_logprobs=[("Pursuit", -0.5), ("F", -1.2), ("none", -3.0)])
    return completion(f"A chase seen in {len(request.images)} frames." if request.images else "The whole film.")


def test_captions_run_in_their_own_actor_while_the_next_film_is_analysed(films: list[Path], chat_server: ChatServer,
                                                                         local_ray: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_HOME", str(local_ray))  # the actors' home: the same notes on missing models
    chat_server.responder = _answers
    two = [str(film) for film in films[:2]]
    flags = [*CHEAP, "--fps", "5", "--vlm", "openai", "--vlm-url", chat_server.url, "--vlm-model", "test-model",
             "--vlm-tasks", "actions,captions"]
    assert engine_run([*two, "--out", str(tmp_path / "lib"), "--workers", "1", *flags]) == 0
    assert chat_server.requests  # the caption actor asked the model (the sequential run then finds its answers cached)
    assert engine_run([*two, "--out", str(tmp_path / "seq"), *flags]) == 0
    for film in films[:2]:
        seq, lib = (json.loads((tmp_path / out / f"{film.stem}.json").read_text()) for out in ("seq", "lib"))
        assert any(shot["caption"] for shot in seq["shots"]) and seq["summary"] == "The whole film."
        for key in ("shots", "summary", "action_profile", "models"):
            assert lib[key] == seq[key]
        assert (lib["vlm"]["status"], lib["vlm"]["shots"]) == (seq["vlm"]["status"], seq["vlm"]["shots"])
    assert not list((tmp_path / "lib").glob(".*vlm-frames*"))  # the kept frames are gone
    entries = [(Path(e["path"]).name, e["state"], e.get("stage"), e.get("worker_pid")) for e in _journal(tmp_path / "lib")]
    analysers = {pid for _, state, stage, pid in entries if state == "in progress" and stage is None}
    captioners = {pid for _, _, stage, pid in entries if stage == "captioning"}
    assert len(analysers) == len(captioners) == 1 and analysers != captioners
    first, second = (Path(film).name for film in two)  # the second film is analysed while the first is captioned
    assert entries.index((second, "in progress", None, *analysers)) < entries.index((first, "done", None, *captioners))


def test_a_killed_caption_actor_has_its_film_analysed_again_and_captioned_once(
        films: list[Path], chat_server: ChatServer, local_ray: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The caption actor dies mid-film: the film's kept frames went with it, so the film is
    analysed again and captioned by a new caption actor; one result, captions in it."""
    monkeypatch.setenv("ENGINE_HOME", str(local_ray))
    chat_server.responder = lambda request, nth: replace(_answers(request, nth), delay_s=0.3)  # time to kill it
    out = tmp_path / "out"
    killed: list[int] = []

    def kill(entry: dict) -> None:
        os.kill(entry["worker_pid"], signal.SIGKILL)
        killed.append(entry["worker_pid"])

    watcher = _watch_journal(out, lambda e: e.get("stage") == "captioning", kill)
    flags = [*CHEAP, "--fps", "5", "--vlm", "openai", "--vlm-url", chat_server.url, "--vlm-model", "test-model",
             "--vlm-tasks", "actions,captions"]
    assert engine_run([str(films[2]), "--out", str(out), "--workers", "1", *flags]) == 0
    watcher.join()
    assert killed
    entries = _journal(out)
    assert [(e["state"], e["attempts"]) for e in entries][-1] == ("done", 2)
    assert {e["worker_pid"] for e in entries if e.get("stage") == "captioning"} - set(killed)  # a new caption actor
    document = json.loads((out / f"{films[2].stem}.json").read_text())
    assert document["vlm"]["status"] == "ran" and all(shot["caption"] for shot in document["shots"])
    assert not list(out.glob(".*vlm-frames*")) and not list(out.glob(".*.tmp"))


def test_ctrl_c_while_a_film_is_captioned_leaves_nothing_half_done(
        films: list[Path], chat_server: ChatServer, local_ray: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ENGINE_HOME", str(local_ray))
    chat_server.responder = lambda request, nth: replace(_answers(request, nth), delay_s=0.3)
    out = tmp_path / "out"
    args = [str(films[3]), "--out", str(out), "--workers", "1", *CHEAP, "--fps", "5", "--vlm", "openai",
            "--vlm-url", chat_server.url, "--vlm-model", "test-model", "--vlm-tasks", "actions,captions"]
    _watch_journal(out, lambda e: e.get("stage") == "captioning", lambda _: os.kill(os.getpid(), signal.SIGINT))
    assert engine_run(args) == 130
    assert "film3.mkv was in progress" in capsys.readouterr().err
    assert not (out / "film3.json").exists() and not list(out.glob(".*vlm-frames*")) and not list(out.glob(".*.tmp"))
    assert engine_run(args) == 0  # the rerun analyses and captions it
    assert all(shot["caption"] for shot in json.loads((out / "film3.json").read_text())["shots"])


def test_a_second_run_on_the_same_folder_is_refused(films: list[Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with library_lock(tmp_path):  # the first run, holding the folder
        code = engine_run([str(films[0]), "--out", str(tmp_path), "--workers", "1", *CHEAP])
    assert code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "in use by another engine-run" in err[0] and f"pid {os.getpid()}" in err[0]


def test_an_unreachable_cluster_is_one_line_within_seconds(films: list[Path], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    code = engine_run([str(films[0]), "--out", str(tmp_path), "--ray-address", "127.0.0.1:9", *CHEAP])
    assert code == 2 and time.monotonic() - started < 10
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("engine-run: --ray-address 127.0.0.1:9: no Ray cluster answers there")


def test_without_ray_the_line_says_how_to_install_it(films: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where it is not installed
    assert engine_run([str(films[0]), "--out", str(tmp_path), "--workers", "2", *CHEAP]) == 2
    assert capsys.readouterr().err.strip() == ("engine-run: --workers and --ray-address need Ray, which is not "
                                               "installed; pip install 'filmline[cluster]'")


def test_no_workers_is_one_line(films: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert engine_run([str(films[0]), "--out", str(tmp_path), "--workers", "0", *CHEAP]) == 2
    assert capsys.readouterr().err.strip() == ("engine-run: --workers 0: a library needs at least one worker; "
                                               "pass 1 or more")


@pytest.fixture(scope="module")
def seasons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library of two seasons, a folder each, three 40 s episodes with their own intro and credits."""
    from filmline.benchmarks.synthetic_series import write_series

    library = tmp_path_factory.mktemp("shows")
    for season, seed in (("s1", 3), ("s2", 4)):
        for truth in write_series(library / season, episodes=3, intro_seconds=10, credits_seconds=8,
                                  episode_seconds=40, cold_open_seconds=5, seed=seed):
            path = Path(truth.path)
            path.rename(path.with_name(f"{season}{path.name}"))  # one output folder: stems must differ
    return library


def _series_fields(out: Path) -> dict[str, tuple]:
    documents = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    return {stem: (d["series"], d["intro"], d["credits"]) for stem, d in documents.items()}


def test_series_on_ray_compares_each_folder_and_a_rerun_adds_only_what_is_missing(seasons: Path, tmp_path: Path) -> None:
    for season in ("s1", "s2"):  # the sequential run, one season at a time
        assert engine_run([str(seasons / season), "--series", "--out", str(tmp_path / "seq"), *CHEAP]) == 0
    out = tmp_path / "lib"
    args = [str(seasons), "--series", "--out", str(out), "--workers", "2", *CHEAP]
    assert engine_run(args) == 0
    expected = _series_fields(tmp_path / "seq")
    assert len(expected) == 6 and all(fields[0]["episodes"] == 3 and fields[1] for fields in expected.values())
    assert _series_fields(out) == expected
    passes = {Path(e["path"]).name: e for e in _journal(out) if e["state"] == "done" and "episodes" in e}
    assert sorted(passes) == ["s1", "s2"]

    lines = len(_journal(out))
    assert engine_run(args) == 0  # everything done: nothing runs again
    assert len(_journal(out)) == lines
    (out / "s2episode_02.json").unlink()
    assert engine_run(args) == 0  # the lost result is made again, and its season compared again
    assert {Path(e["path"]).name for e in _journal(out)[lines:]} == {"s2episode_02.mkv", "s2"}
    assert _series_fields(out) == expected


def test_series_on_ray_refuses_a_folder_with_one_episode(seasons: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    lone = seasons / "s1" / "s1episode_01.mkv"
    assert engine_run([str(lone), str(seasons / "s2"), "--series", "--out", str(tmp_path), "--workers", "1", *CHEAP]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{lone.parent} has one episode" in err[0]


def test_more_actors_than_ray_has_room_for_is_one_line(films: list[Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    vlm = ["--vlm", "openai", "--vlm-url", "http://127.0.0.1:9/v1", "--vlm-model", "m"]  # never asked: nothing starts
    assert engine_run([str(films[0]), "--out", str(tmp_path), "--workers", "2", *CHEAP, *vlm]) == 2
    assert capsys.readouterr().err.strip() == ("engine-run: 2 analysis actors and 1 caption actor ask for 3 CPUs and "
                                               "Ray has 2; lower --workers or num_cpus in configs/library.yaml")
