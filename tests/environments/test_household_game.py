"""Household rules (pure): transitions and their ALFWorld text, admissible == executable, winning."""

from __future__ import annotations

import random

import pytest

from agent_system.environments.household import generate
from agent_system.environments.household.game import (
    NOTHING_HAPPENS,
    Game,
    State,
    admissible,
    apply,
    intro,
    is_won,
)
from agent_system.environments.household.world import (
    OBJECTS,
    TASK_TYPES,
    all_combos,
    combos_for,
    held_out_combos,
)


def _game(task_type="heat", obj="apple", recep="countertop", goal="put a hot apple in countertop",
          places=(("apple 1", "fridge 1"), ("book 1", "desk 1"), ("cup 1", "countertop 1"),
                  ("desklamp 1", "desk 1"))) -> Game:
    receptacles = ("countertop 1", "desk 1", "drawer 1", "fridge 1", "microwave 1", "sinkbasin 1")
    return Game("test/0", task_type, goal, obj, recep, receptacles, State(places=tuple(sorted(places))))


def _run(game: Game, commands: list[str], state: State | None = None) -> tuple[State, list[str]]:
    state = state or game.start
    out = []
    for c in commands:
        state, feedback = apply(game, state, c)
        out.append(feedback)
    return state, out


def test_intro_and_arrival_texts_read_like_alfworld():
    g = _game()
    assert intro(g) == (
        "You are in the middle of a room. Looking quickly around you, you see a countertop 1, a desk 1, "
        "a drawer 1, a fridge 1, a microwave 1, and a sinkbasin 1.\n\nYour task is to: put a hot apple in countertop.")
    _, out = _run(g, ["go to desk 1", "go to fridge 1", "open fridge 1", "close fridge 1", "go to drawer 1",
                      "open drawer 1"])
    assert out == [
        "You arrive at desk 1. On the desk 1, you see a book 1, and a desklamp 1.",
        "You arrive at fridge 1. The fridge 1 is closed.",
        "You open the fridge 1. The fridge 1 is open. In it, you see a apple 1.",
        "You close the fridge 1.",
        "You arrive at drawer 1. The drawer 1 is closed.",
        "You open the drawer 1. The drawer 1 is open. In it, you see nothing.",
    ]


def test_a_whole_heat_game_with_its_feedback():
    g = _game()
    state, out = _run(g, ["inventory", "go to fridge 1", "open fridge 1", "take apple 1 from fridge 1", "inventory",
                          "examine apple 1", "go to microwave 1", "heat apple 1 with microwave 1", "examine apple 1",
                          "look", "go to countertop 1"])
    assert out[0] == "You are not carrying anything."
    assert out[3] == "You pick up the apple 1 from the fridge 1."
    assert out[4] == "You are carrying: a apple 1."
    assert out[5] == "There's nothing special about apple 1."
    assert out[7] == "You heat the apple 1 using the microwave 1."
    assert out[8] == "This is a hot apple 1."
    assert out[9] == "You are facing the microwave 1. Next to it, you see nothing."
    assert not is_won(g, state)
    state, out = _run(g, ["move apple 1 to countertop 1"], state)
    assert out == ["You move the apple 1 to the countertop 1."] and is_won(g, state)


def test_objects_list_in_alfworld_order():
    g = _game(places=(("cup 1", "countertop 1"), ("cup 3", "countertop 1"), ("apple 2", "countertop 1"),
                      ("cup 2", "countertop 1")))
    _, out = _run(g, ["go to countertop 1"])
    assert out == ["You arrive at countertop 1. On the countertop 1, you see a apple 2, a cup 3, a cup 2, and a cup 1."]


@pytest.mark.parametrize("commands", [
    ["go to moon 1"],
    ["take apple 1 from fridge 1"],                                  # not there
    ["go to fridge 1", "take apple 1 from fridge 1"],                # closed
    ["go to countertop 1", "take cup 1 from countertop 1", "go to fridge 1", "open fridge 1",
     "take apple 1 from fridge 1"],                                  # hands full
    ["go to countertop 1", "go to countertop 1"],                    # already there
    ["go to countertop 1", "take cup 1 from countertop 1", "go to drawer 1", "move cup 1 to drawer 1"],  # closed
    ["go to desk 1", "take book 1 from desk 1", "go to microwave 1", "heat book 1 with microwave 1"],  # not heatable
    ["go to fridge 1", "open fridge 1", "take apple 1 from fridge 1", "heat apple 1 with fridge 1"],  # wrong appliance
    ["go to desk 1", "take desklamp 1 from desk 1"],                 # lamps stay
    ["use desklamp 1"],                                              # not at the lamp
    ["examine apple 1"],                                             # not in hand
    ["open countertop 1"],
    ["dance"],
    [""],
])
def test_impossible_commands_change_nothing(commands):
    g = _game()
    state, out = _run(g, commands[:-1])
    after, feedback = apply(g, state, commands[-1])
    assert feedback == NOTHING_HAPPENS and after == state


def _grammar(game: Game, state: State) -> set[str]:
    """Every command the grammar can form over this game's names (ALFWorld's verbs)."""
    recs = list(game.receptacles) + ["moon 1"]
    objs = list(game.objects)
    if state.holding:
        objs.append(state.holding)
    out = {"look", "inventory", "help"}
    for r in recs:
        out |= {f"go to {r}", f"open {r}", f"close {r}", f"examine {r}"}
        for o in objs:
            out |= {f"take {o} from {r}", f"move {o} to {r}"} | {f"{v} {o} with {r}" for v in ("heat", "cool", "clean")}
    for o in objs:
        out |= {f"use {o}", f"examine {o}"}
    return out


def test_admissible_commands_are_exactly_the_executable_ones():
    rng = random.Random(0)
    checked = 0
    for seed in range(60):
        game = generate.train_game(seed)
        state = game.start
        for _ in range(12):
            adm = admissible(game, state)
            assert adm == sorted(set(adm)), "admissible commands are sorted and unique"
            grammar = _grammar(game, state)
            assert set(adm) <= grammar
            for command in grammar:
                nxt, feedback = apply(game, state, command)
                assert (feedback != NOTHING_HAPPENS) == (command in adm), (game.game_id, command, state)
                if command not in adm:
                    assert nxt == state
                checked += 1
            state, _ = apply(game, state, rng.choice(adm))
    assert checked > 10_000


def test_pick_two_needs_both_in_one_receptacle():
    g = Game("test/0", "pick_two_obj_and_place", "put two cd in shelf", "cd", "shelf",
             ("desk 1", "shelf 1", "shelf 2"), State(places=(("cd 1", "desk 1"), ("cd 2", "desk 1"))))
    split = ["go to desk 1", "take cd 1 from desk 1", "go to shelf 1", "move cd 1 to shelf 1",
             "go to desk 1", "take cd 2 from desk 1", "go to shelf 2", "move cd 2 to shelf 2"]
    state, _ = _run(g, split)
    assert not is_won(g, state)
    state, _ = _run(g, ["take cd 2 from shelf 2", "go to shelf 1", "move cd 2 to shelf 1"], state)
    assert is_won(g, state)


def test_treatments_replace_each_other_and_placing_untreated_does_not_win():
    g = _game()
    state, _ = _run(g, ["go to fridge 1", "open fridge 1", "take apple 1 from fridge 1", "go to countertop 1",
                        "move apple 1 to countertop 1"])
    assert not is_won(g, state)
    state, out = _run(g, ["take apple 1 from countertop 1", "go to microwave 1", "heat apple 1 with microwave 1",
                          "go to fridge 1", "cool apple 1 with fridge 1", "examine apple 1", "go to sinkbasin 1",
                          "clean apple 1 with sinkbasin 1", "examine apple 1"], state)
    assert out[5] == "This is a cold apple 1." and out[8] == "This is a cool and clean apple 1."
    assert state.hot == frozenset() and "apple 1" in state.cool


def test_lamp_task_needs_lamp_on_at_the_lamp_with_the_object():
    g = _game("look_at_obj_in_light", "book", "desk", "examine the book with the desklamp",
              places=(("book 1", "drawer 1"), ("desklamp 1", "desk 1")))
    state, out = _run(g, ["go to desk 1", "use desklamp 1", "use desklamp 1"])
    assert out[1:] == ["You turn on the desklamp 1.", "You turn off the desklamp 1."] and not is_won(g, state)
    state, _ = _run(g, ["use desklamp 1", "go to drawer 1", "open drawer 1", "take book 1 from drawer 1"], state)
    assert state.lamp_on and not is_won(g, state)  # lamp on, book in hand, but not at the lamp
    state, _ = _run(g, ["go to desk 1"], state)
    assert is_won(g, state)


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_every_task_type_is_solvable_in_every_split(task_type):
    from agent_system.environments.household.expert import plan

    for split in ("train", "valid_seen", "valid_unseen"):
        game = next(g for g in (generate.game_for(split, s) for s in range(12)) if g.task_type == task_type)
        state = game.start
        assert not is_won(game, state)
        for command in plan(game, state):
            assert not is_won(game, state)
            state, feedback = apply(game, state, command)
            assert feedback != NOTHING_HAPPENS
        assert is_won(game, state)


def test_held_out_combinations_keep_every_word_seen():
    assert held_out_combos() <= set(all_combos())
    for task_type in TASK_TYPES:
        seen, unseen = combos_for("train", task_type), combos_for("valid_unseen", task_type)
        assert seen and unseen and not set(seen) & set(unseen)
        assert {c[1] for c in unseen} <= {c[1] for c in seen}
        assert {c[2] for c in unseen} <= {c[2] for c in seen}
        assert combos_for("valid_seen", task_type) == seen
    treat = {"heat", "cool", "clean"}
    for task_type, obj, _ in all_combos():
        if task_type in treat:
            assert task_type in OBJECTS[obj].treatments
    with pytest.raises(ValueError, match="unknown household split"):
        combos_for("test", "heat")
