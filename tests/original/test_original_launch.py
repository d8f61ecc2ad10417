"""The launch script with ``recipe=skillrl_original``: the validation file it prepares is the one the
config reads (ALFWorld ``valid_seen``), and data already there is kept.

The script's last step (``exec python -m skillrl.main ...``, a verl run) is answered by a stand-in
``PYTHON`` that runs every other command with the real interpreter; everything before it is real.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
from original_helpers import ORIGINAL_REPO, ROOT

SCRIPT = ROOT / "examples" / "grpo_trainer" / "run_alfworld_skills.sh"


def _python_stand_in(tmp_path):
    """A ``PYTHON`` that prints the final verl command instead of running it (a config print,
    ``--cfg ...``, and data preparation run for real)."""
    path = tmp_path / "python"
    path.write_text(
        "#!/bin/bash\n"
        'if [[ "$1" == "-m" && " $* " != *" --cfg "* ]]; then echo "VERL-RUN $*"; exit 0; fi\n'
        f'exec {sys.executable} "$@"\n',
        encoding="utf-8",
    )
    path.chmod(0o755)
    return path


def _launch(tmp_path, data_root, *overrides):
    env = {**os.environ, "PYTHON": str(_python_stand_in(tmp_path)), "MODEL_PATH": "/models/Alfworld-7B-SFT",
           "DATA_ROOT": str(data_root), "SKILLRL_ORIGINAL_REPO": str(ORIGINAL_REPO), "PYTHONPATH": str(ROOT)}
    env.pop("DRY_RUN", None)
    env.pop("WANDB_API_KEY", None)
    return subprocess.run(["bash", str(SCRIPT), *overrides], capture_output=True, text=True, env=env, cwd=str(ROOT),
                          timeout=600)


def test_original_recipe_prepares_the_valid_seen_file_and_keeps_existing_data(tmp_path):
    data = tmp_path / "data"
    proc = _launch(tmp_path, data, "recipe=skillrl_original", "trainer.val_only=true")
    assert proc.returncode == 0, proc.stderr[-3000:]
    val = pd.read_parquet(data / "valid_seen.parquet")
    assert set(val["extra_info"].map(lambda i: i["split"])) == {"valid_seen"}
    assert "VERL-RUN" in proc.stdout and f"data.val_files={data}/${{env.val_split}}.parquet" in proc.stdout
    assert "recipe=skillrl_original" in proc.stdout and "trainer.val_only=true" in proc.stdout
    # a later run with the native recipe needs valid_unseen: only that file is written, train is kept
    mtime = (data / "train.parquet").stat().st_mtime_ns
    proc = _launch(tmp_path, data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert pd.read_parquet(data / "valid_unseen.parquet")["extra_info"].iloc[0]["split"] == "valid_unseen"
    assert (data / "train.parquet").stat().st_mtime_ns == mtime and "kept" in proc.stdout
