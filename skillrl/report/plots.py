"""PNG plots of a :class:`~skillrl.report.model.RunReport` (matplotlib, Agg backend).

Each ``plot_*`` function draws one figure from the report and returns the PNG bytes, or None
when the report has no data for it. :func:`render_plots` runs them all.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from skillrl.report.build import overall_success_series, prompt_token_series, success_by_type_series
from skillrl.report.model import RunReport


@dataclass(frozen=True)
class Plot:
    """One rendered figure."""

    name: str
    """File stem (``success_by_type`` → ``success_by_type.png``)."""
    title: str
    caption: str
    png: bytes
    wide: bool = False
    """Spans the page's width (a figure with several panels)."""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _integer_steps(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def plot_success_by_type(report: RunReport) -> bytes | None:
    """Success rate per task type over training steps (validation; train when logged)."""
    splits = success_by_type_series(report.metrics)
    if not splits:
        return None
    plt = _pyplot()
    order = [s for s in ("validation", "train") if s in splits]
    fig, axes = plt.subplots(1, len(order), figsize=(6.4 * len(order), 4.0), squeeze=False)
    for ax, split in zip(axes[0], order):
        for task_type, series in splits[split].items():
            ax.plot(series.steps, series.values, marker="o", markersize=4, label=task_type)
        overall = overall_success_series(report.metrics, split)
        if overall is not None:
            ax.plot(overall.steps, overall.values, color="black", linestyle="--", linewidth=2, marker="s",
                    markersize=4, label="all")
        ax.set_title(f"{split} success by task type")
        ax.set_xlabel("training step")
        _integer_steps(ax)
        ax.set_ylabel("success rate")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    return _png(fig)


def plot_bank_sizes(report: RunReport) -> bytes | None:
    """Items per category (general, each task type, mistakes) at each bank version, stacked."""
    versions = report.bank_versions
    if not versions:
        return None
    plt = _pyplot()
    groups: list[str] = []
    for v in versions:
        for g in v.sizes():
            if g not in groups:
                groups.append(g)
    groups = [g for g in ("general",) if g in groups] + [g for g in groups if g not in ("general", "mistakes")] + \
             [g for g in ("mistakes",) if g in groups]
    labels = [f"v{v.version}" + (f"\nstep {v.step}" if v.step is not None else "") for v in versions]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(versions) + 3), 4.0))
    bottom = [0] * len(versions)
    cmap = plt.get_cmap("tab20")
    for i, g in enumerate(groups):
        heights = [v.sizes().get(g, 0) for v in versions]
        ax.bar(range(len(versions)), heights, bottom=bottom, label=g, color=cmap(i % 20), width=0.6)
        bottom = [b + h for b, h in zip(bottom, heights)]
    for x, total in enumerate(bottom):
        ax.text(x, total, str(total), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(versions)), labels, fontsize=8)
    ax.set_ylabel("items")
    ax.set_title("skill bank size per category over versions")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _png(fig)


def plot_prompt_tokens(report: RunReport) -> bytes | None:
    """Prompt tokens per turn with skills, without them (prompt minus skill block) and the
    skill block alone, over training steps."""
    prompt, skill = prompt_token_series(report.metrics)
    if prompt is None:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(prompt.steps, prompt.values, marker="o", markersize=3, label="prompt with skills")
    if skill is not None:
        skill_at = dict(zip(skill.steps, skill.values))
        steps = [s for s in prompt.steps if s in skill_at]
        without = [p - skill_at[s] for s, p in zip(prompt.steps, prompt.values) if s in skill_at]
        ax.plot(steps, without, marker="o", markersize=3, label="prompt without skills")
        ax.plot(skill.steps, skill.values, linestyle=":", label="skill block")
    ax.set_xlabel("training step")
    _integer_steps(ax)
    ax.set_ylabel("tokens per turn")
    ax.set_ylim(bottom=0)
    ax.set_title("prompt tokens per turn")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def plot_training(report: RunReport) -> bytes | None:
    """Mean train reward and success rates over steps."""
    keys = [("train/reward_mean", "train reward"), ("train/success_rate", "train success"),
            ("critic/score/mean", "train score"), ("val/success_rate", "validation success"),
            ("val-core/skillrl/success_rate", "validation success")]
    present = [(k, label) for k, label in keys if report.metrics.get(k) is not None]
    if not present:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for k, label in present:
        s = report.metrics.get(k)
        ax.plot(s.steps, s.values, marker="o", markersize=3, label=label)
    ax.set_xlabel("training step")
    _integer_steps(ax)
    ax.set_title("reward and success")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


PLOTS: tuple[tuple[str, str, str, Callable[[RunReport], bytes | None]], ...] = (
    ("success_by_type", "Success per task type", "Success rate of each task type at each validation "
     "(and training step when logged); dashed: all types.", plot_success_by_type),
    ("bank_size", "Bank size per category", "Active items per category at each bank version shown below.",
     plot_bank_sizes),
    ("prompt_tokens", "Prompt tokens with and without skills", "Mean prompt tokens per turn (the policy's "
     "tokenizer); without skills = prompt minus the skill block.", plot_prompt_tokens),
    ("training", "Reward and success", "Mean training reward and success rates per step.", plot_training),
)


def _aspect(png: bytes) -> float:
    """Width / height of a PNG (from its IHDR header)."""
    import struct

    width, height = struct.unpack(">II", png[16:24])
    return width / height if height else 1.0


def render_plots(report: RunReport) -> list[Plot]:
    """Every plot the report has data for, in page order."""
    out = []
    for name, title, caption, fn in PLOTS:
        png = fn(report)
        if png is not None:
            out.append(Plot(name, title, caption, png, wide=_aspect(png) > 2.0))
    return out
