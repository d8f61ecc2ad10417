"""ALFWorldEnv on real valid_seen games (a handful: each reset takes ~1-2 s)."""

import os

import pytest

from agent_system.environments.alfworld import SPEC, ALFWorldEnv, ALFWorldState, discover_games, task_type_of
from agent_system.environments.alfworld.env import game_id_of, split_dir
from agent_system.environments.alfworld.taxonomy import TASK_TYPE_BY_PREFIX, TASK_TYPES
from agent_system.environments.base import INFO_KEYS, EpisodeFinishedError, StepInfo, UnknownEnvSettingError, get_env_spec
from skillrl.utils.paths import DataNotFoundError, resolve_data_dir


@pytest.fixture(scope="module")
def data_dir():
    try:
        root = resolve_data_dir("alfworld")
        split_dir(root, "valid_seen")
    except DataNotFoundError as exc:
        pytest.skip(f"ALFWorld data not available: {exc}")
    return root


@pytest.fixture(scope="module")
def env(data_dir):
    e = ALFWorldEnv(data_dir=data_dir, split="valid_seen")
    yield e
    e.close()


def _expert_text(info):
    return f"<think>expert</think><action>{info['expert_action'] or 'look'}</action>"


def test_spec_is_registered():
    spec = get_env_spec("alfworld")
    assert spec is SPEC and spec.name == "alfworld"
    assert set(spec.task_types) == {"pick_and_place", "pick_two_obj_and_place", "look_at_obj_in_light", "clean", "heat", "cool"}
    assert spec.taxonomy.categories == spec.task_types
    assert spec.play is not None and list(spec.play.scripts)[:3] == ["expert", "random", "perturbed"]
    assert spec.play.default_script == "expert" and spec.play.eval_splits == ("valid_seen", "valid_unseen")
    assert spec.score is None


def test_factory_rejects_unknown_settings(tmp_path):
    with pytest.raises(UnknownEnvSettingError, match="unknown alfworld env setting 'splt'.*did you mean 'split'"):
        SPEC.make(data_dir=tmp_path, splt="valid_seen")


def test_discovery_counts_and_order(data_dir):
    seen = discover_games(data_dir, "valid_seen")
    unseen = discover_games(data_dir, "valid_unseen")
    assert (len(seen), len(unseen)) == (140, 134)
    assert list(seen) == sorted(seen)
    assert {task_type_of(g) for g in seen} == set(TASK_TYPES)


def test_task_type_mapping():
    assert set(TASK_TYPE_BY_PREFIX.values()) == set(TASK_TYPES)
    assert task_type_of("x/pick_cool_then_place_in_recep-Apple-None-Microwave-19/trial_T1/game.tw-pddl") == "cool"
    assert task_type_of("x/pick_and_place_simple-Pen-None-Desk-1/trial_T1/game.tw-pddl") == "pick_and_place"
    assert task_type_of("x/something_else-A-B/trial_T1/game.tw-pddl") == "unknown"


def test_reset_step_and_info(env):
    before = os.environ.get("ALFWORLD_DATA")
    obs, info = env.reset(seed=0)
    assert os.environ.get("ALFWORLD_DATA") == before  # the alfworld import must not set it
    assert isinstance(info, StepInfo) and all(k in info for k in INFO_KEYS)
    assert isinstance(info.extra, ALFWorldState) and info.extra.gamefile == str(env.order[0])
    assert info["expert_action"] == info.extra.expert_action != ""
    assert info["game_id"] == game_id_of(env.order[0])
    assert info["game_id"].startswith("valid_seen/")
    assert info["task_type"] == task_type_of(env.order[0])
    assert info["task"] and info["task"] in obs
    assert "Welcome to TextWorld" not in obs
    adm = env.admissible_actions()
    assert adm and "look" in adm and "help" not in adm
    go = next(a for a in adm if a.startswith("go to"))
    obs2, reward, done, info2 = env.step(f"<think>walk</think><action>{go}</action>")
    assert info2["is_action_valid"] and info2["action"] == go
    assert reward == 0.0 and done is False and obs2
    # an invalid output is not an exception and does not change the game
    adm_before = env.admissible_actions()
    obs3, reward, done, info3 = env.step("I will go to the desk")
    assert info3["is_action_valid"] is False and reward == 0.0 and done is False
    assert obs3 == ("Invalid action: missing <think>...</think> block. Nothing happened. Answer with "
                    "<think>...</think><action>...</action> holding exactly one admissible action.")
    assert env.admissible_actions() == adm_before and info3["expert_action"] == info2["expert_action"]
    assert env.turn == 2


def test_seed_and_task_pick_the_game(env):
    n = len(env.games)
    _, a = env.reset(seed=3)
    _, b = env.reset(seed=3 + n)
    assert a["game_id"] == b["game_id"] == game_id_of(env.order[3])
    assert sorted(env.order) == sorted(env.games)  # a permutation: seeds 0..n-1 visit every game
    first_types = {task_type_of(g) for g in env.order[:12]}
    assert len(first_types) >= 3  # consecutive seeds mix task types
    _, c = env.reset(task=a["game_id"])
    assert c["game_id"] == a["game_id"]
    _, d = env.reset(task=str(env.games[5]))
    assert d["game_id"] == game_id_of(env.games[5])
    with pytest.raises(ValueError, match="unknown ALFWorld game"):
        env.reset(task="valid_seen/no-such-game/trial_x")


def test_expert_wins_and_done_handling(env):
    for seed in (16, 70):  # pick_and_place (5 expert steps), clean
        obs, info = env.reset(seed=seed)
        for _ in range(60):
            obs, reward, done, info = env.step(_expert_text(info))
            if done:
                break
        assert done and info["won"] and reward == 1.0, info["game_id"]
        with pytest.raises(EpisodeFinishedError):
            env.step(_expert_text(info))


def test_step_before_reset_and_after_close_raises(data_dir):
    e = ALFWorldEnv(data_dir=data_dir, split="valid_seen")
    with pytest.raises(EpisodeFinishedError, match="not started"):
        e.step("<think>x</think><action>look</action>")
    e.reset(seed=0)
    e.close()
    e.close()
    with pytest.raises(EpisodeFinishedError, match="finished"):
        e.step("<think>x</think><action>look</action>")


def test_missing_data_dir_error(tmp_path):
    with pytest.raises(DataNotFoundError, match="alfworld-download"):
        ALFWorldEnv(data_dir=tmp_path / "nope")
    (tmp_path / "json_2.1.1").mkdir()
    with pytest.raises(DataNotFoundError, match="alfworld-download"):
        ALFWorldEnv(data_dir=tmp_path, split="valid_seen")
    with pytest.raises(ValueError, match="unknown ALFWorld split"):
        ALFWorldEnv(data_dir=tmp_path, split="test")


def test_packed_train_split_explains_extraction(tmp_path):
    (tmp_path / "json_2.1.1").mkdir()
    (tmp_path / "train_games.tgz").write_bytes(b"")
    with pytest.raises(DataNotFoundError, match="tar xzf"):
        ALFWorldEnv(data_dir=tmp_path, split="train")


def test_expert_tracking_reads_move_as_put():
    from agent_system.environments.alfworld.env import _patch_move_tracking

    class Policy:
        def __init__(self):
            self.seen = []

        def update_state_tracking(self, game_state, last_action):
            self.seen.append(last_action)

    policy = Policy()
    _patch_move_tracking(policy)
    _patch_move_tracking(policy)  # idempotent
    policy.update_state_tracking({}, "move book 1 to desk 1")
    policy.update_state_tracking({}, "take book 1 from bed 1")
    assert policy.seen == ["put book 1 to desk 1", "take book 1 from bed 1"]


def test_one_translation_env_plays_as_textworlds_own(data_dir):
    """The first reset after a load reuses the PDDL state the load built; observations,
    admissible commands, expert plans and wins match ``textworld.start``'s env turn by turn,
    including a second reset of the same loaded game (TextWorld's own reset)."""
    import textworld

    from agent_system.environments.alfworld.env import _load_textworld, _pddl_env_class

    games = [ALFWorldEnv(data_dir=data_dir, split="valid_seen").order[k] for k in (0, 7)]
    infos = textworld.EnvInfos(won=True, admissible_commands=True, extras=["gamefile"])

    def trace(tw, n_steps=6):
        out = []
        for _ in range(2):  # the second round is a reset of the already-loaded game
            state = tw.reset()
            out.append((state["feedback"], state["admissible_commands"], state["won"]))
            for k in range(n_steps):
                commands = state["admissible_commands"]
                state, _, done = tw.step(commands[(3 * k + 1) % len(commands)])
                out.append((state["feedback"], state["admissible_commands"], state["won"], done))
        tw.close()
        return out

    for game in games:
        ours = _pddl_env_class()(infos)
        ours.load(str(game))
        assert ours._loaded_state is not None
        reference = textworld.start(str(game), infos)
        assert trace(ours) == trace(reference)
        # the wrapped env the ALFWorld env plays: the expert's plan is TextWorld's too
        wrapped = _load_textworld(game)
        first = wrapped.reset()
        assert first["extra.expert_plan"] and first["admissible_commands"]
        wrapped.close()
