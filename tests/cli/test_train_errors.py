"""Bad settings, on the real command lines, end in one ``error:`` line naming the key, the value
and what is allowed, with exit status 2, before any model or environment is built (issue 8's
probes). Each case runs ``skillrl train --local`` or ``python -m skillrl.main`` in a subprocess."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: the installed console script (the real command line users type)
SKILLRL = str(Path(sys.executable).parent / "skillrl") if (Path(sys.executable).parent / "skillrl").exists() \
    else (shutil.which("skillrl") or "skillrl")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("probe")
    (d / "bad.json").write_text("{not json")
    (d / "schema.json").write_text(json.dumps({"general_skills": [{"skill_id": 3, "title": "t", "principle": "p",
                                                                   "when_to_apply": "w"}]}))
    (d / "empty_model").mkdir()
    (d / "a_file").write_text("x")
    return d


#: (id, arguments of `skillrl train --local`, fragments the error line must contain)
TRAIN_CASES = [
    ("bank-bad-json", ["--skills", "{d}/bad.json"], ["bad.json", "invalid JSON"]),
    ("bank-schema", ["--skills", "{d}/schema.json"], ["general_skills[0].skill_id", "expected a string"]),
    ("bank-missing", ["--skills", "{d}/missing.json"], ["env.skills_only_memory.skills_json_path", "missing.json",
                                                         "an existing SkillBank JSON file"]),
    ("model-empty-dir", ["--model", "{d}/empty_model"], ["model_path", "empty_model", "config.json"]),
    ("model-missing", ["--model", "{d}/no_model"], ["model_path", "no_model", "hub id"]),
    ("retrieval-mode", ["env.skills_only_memory.retrieval_mode=bogus"],
     ["env.skills_only_memory.retrieval_mode", "'bogus'", "embedding, embedding_merged, template"]),
    ("retrieval-mode-bare", ["retrieval_mode=bogus"],
     ["unknown config key 'retrieval_mode'", "env.skills_only_memory.retrieval_mode"]),
    ("lr", ["lr=abc"], ["lr", "'abc'", "a number"]),
    ("batch-float", ["train_batch_size=2.5"], ["train_batch_size", "2.5", "an integer"]),
    ("batch-word", ["train_batch_size=abc"], ["train_batch_size", "'abc'", "an integer"]),
    ("batch-zero", ["train_batch_size=0"], ["train_batch_size", "0", "an integer >= 1"]),
    ("device", ["device=tpu"], ["device", "'tpu'", "auto, cpu, cuda"]),
    ("loggers-word", ["loggers=nope"], ["loggers", "'nope'", "a list"]),
    ("loggers-unknown", ["loggers=[console,nope]"], ["loggers", "nope", "jsonl, console, tensorboard"]),
    ("env-kwargs", ["env.env_kwargs=5"], ["env.env_kwargs", "5", "a mapping"]),
    ("env-kwargs-bare", ["env_kwargs=5"], ["unknown config key 'env_kwargs'", "env.env_kwargs"]),
    ("max-steps", ["env.max_steps=abc"], ["env.max_steps", "'abc'", "an integer"]),
    ("top-k", ["env.skills_only_memory.top_k=-3"], ["env.skills_only_memory.top_k", "-3", ">= 0"]),
    ("group", ["env.rollout.n=0"], ["env.rollout.n", "0", ">= 1"]),
    ("env-flag", ["--env", "chess"], ["env", "'chess'", "alfworld, household, search, toy, webshop"]),
    ("output-file", ["--output-dir", "{d}/a_file"], ["output_dir", "a_file", "is a file"]),
    ("output-under-file", ["--output-dir", "{d}/a_file/run"], ["output_dir", "a_file", "is a file"]),
    ("override-syntax", ["lr=[1"], ["cannot parse the override"]),
    ("verl-config", ["--config", "skillrl_trainer"], ["--config", "skillrl_trainer", "local-backend config"]),
]

#: (id, arguments of `python -m skillrl.main --config-name local_quickstart`, fragments)
HYDRA_CASES = [
    ("max-steps", ["env.max_steps=abc"], ["env.max_steps", "'abc'", "an integer"]),
    ("top-k", ["env.skills_only_memory.top_k=-3"], ["env.skills_only_memory.top_k", "-3", ">= 0"]),
    ("top-k-bare", ["top_k=-3"], ["unknown config key 'top_k'", "env.skills_only_memory.top_k"]),
    ("old-local-section", ["local.lr=0.1"], ["unknown config key 'local.lr'", "lr"]),
    ("skills-without-bank", ["env.use_skills_only_memory=true"], ["env.skills_only_memory.skills_json_path"]),
    ("bank-bad-json", ["env.use_skills_only_memory=true", "env.skills_only_memory.skills_json_path={d}/bad.json"],
     ["bad.json", "invalid JSON"]),
    ("env-group", ["env=chess"], ["env", "'chess'", "alfworld, household, search, toy, webshop"]),
]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _check_one_error_line(proc, fragments, status=2):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == status, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert proc.stdout.strip() == ""


@pytest.mark.parametrize("case", TRAIN_CASES, ids=[c[0] for c in TRAIN_CASES])
def test_skillrl_train_rejects(case, files, tmp_path):
    _, args, fragments = case
    args = [a.format(d=files) for a in args]
    out = tmp_path / "out"
    extra = [] if "--output-dir" in args else ["--output-dir", str(out)]
    proc = subprocess.run([SKILLRL, "train", "--local", *extra, *args],
                          capture_output=True, text=True, cwd=str(tmp_path), env=_env(), timeout=300)
    _check_one_error_line(proc, fragments)
    assert not out.exists(), "nothing may be built or written for a bad setting"


@pytest.mark.parametrize("case", HYDRA_CASES, ids=[c[0] for c in HYDRA_CASES])
def test_hydra_local_path_rejects(case, files, tmp_path):
    _, args, fragments = case
    args = [a.format(d=files) for a in args]
    proc = subprocess.run([sys.executable, "-m", "skillrl.main", "--config-name", "local_quickstart",
                           f"output_dir={tmp_path / 'out'}", *args],
                          capture_output=True, text=True, cwd=str(tmp_path), env=_env(), timeout=300)
    _check_one_error_line(proc, fragments)
    assert not (tmp_path / "out").exists()


def test_an_alfworld_run_whose_games_all_fail_exits_nonzero(tmp_path):
    """Every game file is broken: the run must end with one error line and a non-zero status."""
    if importlib.util.find_spec("alfworld") is None:  # not imported here: importing it sets ALFWORLD_DATA
        pytest.skip("alfworld is not installed")
    for split in ("valid_train", "valid_seen"):
        for i in range(2):
            game = tmp_path / "data" / "json_2.1.1" / split / f"pick_and_place_simple-Apple-None-Fridge-{i}" / "trial_T1"
            game.mkdir(parents=True)
            (game / "game.tw-pddl").write_text('{"broken": true}')
            (game / "traj_data.json").write_text("{}")
    proc = subprocess.run([SKILLRL, "train", "--local", "--env", "alfworld", "--no-skills", "--cold-start", "format",
                           "--output-dir", str(tmp_path / "out"), f"env.data_dir={tmp_path / 'data'}",
                           "env.train_split=valid_train", "env.val_split=valid_seen",
                           "num_env_workers=0", "progress=false", "loggers=[jsonl]"],
                          capture_output=True, text=True, cwd=str(tmp_path), env=_env(), timeout=600)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "alfworld env failed" in errors[0], proc.stderr[-3000:]


def test_a_round_without_a_playable_episode_fails():
    from skillrl.agent.episode import Episode
    from skillrl.trainer.local.trainer import EpisodesFailedError, _require_a_playable_episode

    ok = Episode("toy", "g", "t", "x", 1)
    broken = Episode("toy", "g", "t", "x", 2, error="KeyError: 'x'")
    _require_a_playable_episode([broken, ok], 2, "toy", "validation")  # one good episode is enough
    with pytest.raises(EpisodesFailedError, match="all 2 toy episodes of validation failed.*KeyError"):
        _require_a_playable_episode([broken, broken], 2, "toy", "validation")
    with pytest.raises(EpisodesFailedError, match="failed on reset"):
        _require_a_playable_episode([], 4, "toy", "training step 1")  # every reset failed: nothing came back
