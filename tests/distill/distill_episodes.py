"""Hand-built ``Episode`` records (the real dataclasses) for the distillation tests."""

from __future__ import annotations

from collections.abc import Sequence

from skillrl.agent.episode import Episode, Generation, Step


def episode(
    env_name: str,
    task: str,
    task_type: str,
    actions: Sequence[str | tuple[str, bool, str]],
    *,
    won: bool = False,
    truncated: bool = False,
    game_id: str = "g",
    seed: int = 0,
    skill_ids: Sequence[str] = (),
) -> Episode:
    """An episode from ``actions``: each an action string, or ``(action, valid, observation)``."""
    steps = []
    for i, a in enumerate(actions):
        action, valid, obs = (a, True, f"obs {i}") if isinstance(a, str) else a
        steps.append(Step(turn=i, prompt="p", generation=Generation(text=f"<think>t{i}</think><action>{action}</action>"),
                          action=action, is_action_valid=valid, observation=obs, reward=0.0,
                          done=i == len(actions) - 1))
    return Episode(env_name=env_name, game_id=game_id, task=task, task_type=task_type, seed=seed, steps=steps,
                   won=won, reward=1.0 if won else 0.0, skill_ids=tuple(skill_ids), truncated=truncated)


def heat_success(seed: int = 0) -> Episode:
    return episode("alfworld", "heat some egg and put it in countertop.", "heat", [
        "go to fridge 1", "open fridge 1", "take egg 1 from fridge 1", "go to microwave 1",
        "heat egg 1 with microwave 1", "go to countertop 1", "move egg 1 to countertop 1",
    ], won=True, seed=seed, game_id=f"heat-{seed}")


def heat_skipped(seed: int = 0, skill_ids: Sequence[str] = ()) -> Episode:
    """Perturbed expert: the heating step is skipped (only that kind should be found)."""
    return episode("alfworld", "heat some egg and put it in countertop.", "heat", [
        "go to fridge 1", "open fridge 1", "take egg 1 from fridge 1", "go to countertop 1",
        "move egg 1 to countertop 1",
    ], seed=seed, game_id=f"heat-{seed}", skill_ids=skill_ids)


def alfworld_loop(seed: int = 0) -> Episode:
    return episode("alfworld", "put a mug in shelf.", "pick_and_place", [
        "go to desk 1", "go to shelf 1", "go to desk 1", "go to shelf 1", "go to desk 1",
    ], seed=seed, game_id=f"loop-{seed}")


def wrong_object(seed: int = 0) -> Episode:
    return episode("alfworld", "put a mug in shelf.", "pick_and_place", [
        "go to desk 1", "take pen 1 from desk 1", "go to shelf 1", "move pen 1 to shelf 1",
    ], seed=seed, game_id=f"wrong-{seed}")


def repeated(seed: int = 0) -> Episode:
    return episode("alfworld", "put a mug in shelf.", "pick_and_place", [
        "go to desk 1", ("examine desk 1", True, "On the desk 1, you see a pen 1."),
        ("examine desk 1", True, "On the desk 1, you see a pen 1."),
    ], seed=seed, game_id=f"rep-{seed}")


def invalid(seed: int = 0) -> Episode:
    return episode("alfworld", "put a mug in shelf.", "pick_and_place", [
        ("grab the mug", False, "Nothing happens."), "go to desk 1", ("place mug on shelf", False, "Nothing happens."),
    ], seed=seed, game_id=f"inv-{seed}")


def closed_container(seed: int = 0) -> Episode:
    return episode("alfworld", "put a mug in shelf.", "pick_and_place", [
        ("go to drawer 1", True, "You arrive at drawer 1. The drawer 1 is closed."), "go to desk 1",
    ], seed=seed, game_id=f"closed-{seed}")


ITEM_PAGE = ("Back to Search [SEP] < Prev [SEP] size [SEP] small [SEP] large [SEP] color [SEP] red [SEP] blue "
             "[SEP] Cotton T-Shirt [SEP] Price: $12.00 [SEP] Rating: N.A. [SEP] Description [SEP] Features "
             "[SEP] Reviews [SEP] Buy Now")
RESULTS = "Back to Search [SEP] Page 1 (Total results: 1) [SEP] Next > [SEP] b0abc12345 [SEP] Cotton T-Shirt [SEP] $12.00"


def premature_purchase(seed: int = 0) -> Episode:
    return episode("webshop", "i need a large red cotton t-shirt under 20 dollars", "fashion", [
        ("search[large red cotton t-shirt]", True, RESULTS), ("click[b0abc12345]", True, ITEM_PAGE),
        ("click[buy now]", True, "Thank you for shopping with us! [SEP] Your score (min 0.0, max 1.0) [SEP] 0.3"),
    ], seed=seed, game_id=f"shop-{seed}")


TWO_RESULTS = ("Back to Search [SEP] Page 1 (Total results: 2) [SEP] Next > [SEP] B0XYZ98765 [SEP] Ceramic Coffee Mug "
               "Set [SEP] $9.99 [SEP] B0ABC12345 [SEP] Large Red Cotton T-Shirt for Men [SEP] $12.00")
MUG_PAGE = ("Back to Search [SEP] < Prev [SEP] Ceramic Coffee Mug Set [SEP] Price: $9.99 [SEP] Rating: N.A. "
            "[SEP] Description [SEP] Features [SEP] Reviews [SEP] Buy Now")


def webshop_wrong_product(seed: int = 0) -> Episode:
    """Buys the first listed product although the second one is what the instruction asks for."""
    return episode("webshop", "i need a large red cotton t-shirt under 20 dollars", "fashion", [
        ("search[large red cotton t-shirt]", True, TWO_RESULTS), ("click[b0xyz98765]", True, MUG_PAGE),
        ("click[buy now]", True, "Thank you for shopping with us! [SEP] Your score (min 0.0, max 1.0) [SEP] 0.1"),
    ], seed=seed, game_id=f"shop-{seed}")


def webshop_success(seed: int = 0) -> Episode:
    return episode("webshop", "i need a large red cotton t-shirt under 20 dollars", "fashion", [
        ("search[large red cotton t-shirt]", True, RESULTS), ("click[b0abc12345]", True, ITEM_PAGE),
        ("click[large]", True, ITEM_PAGE), ("click[red]", True, ITEM_PAGE),
        ("click[buy now]", True, "Thank you for shopping with us! [SEP] Your score (min 0.0, max 1.0) [SEP] 1.0"),
    ], won=True, seed=seed, game_id=f"shop-{seed}")


def answer_without_search(seed: int = 0) -> Episode:
    return episode("search", "who wrote the novel that inspired the film vertigo?", "multi_hop", [
        ("<answer>Alfred Hitchcock</answer>", True, "Your answer is wrong."),
    ], seed=seed, game_id=f"q-{seed}")


def exhausted(seed: int = 0) -> Episode:
    return episode("alfworld", "put a mug in shelf.", "pick_and_place", [
        "go to desk 1", "go to shelf 1", "go to drawer 2", "go to cabinet 3",
    ], truncated=True, seed=seed, game_id=f"exh-{seed}")
