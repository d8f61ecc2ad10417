"""Shared body of ``skill_generation/{alfworld,webshop,search}.py`` (the original's interface).

``python skill_generation/<env>.py --memory_path MEMORIES.json --output_path BANK.json
[--llm heuristic|openai|azure] [--model NAME]`` reads memories in the original record format and
writes a skill bank (general skills, skills per task type, common mistakes) in the original bank
format, which ``skillrl skills validate`` accepts. The work is done by :mod:`skillrl.distill`
(the same code as ``skillrl distill bank``); prompts live in ``skill_generation/prompts/``.
"""

from __future__ import annotations

import argparse
import logging
import sys



def main(env_name: str, argv: list[str] | None = None) -> int:
    from skillrl.cli.distill import ENV_DESCRIPTIONS, env_taxonomy
    from skillrl.distill import (
        JsonCache,
        LLMConfig,
        LLMError,
        MemoryFormatError,
        build_bank,
        build_distiller,
        read_memories,
    )
    from skillrl.skills import SkillBankError

    parser = argparse.ArgumentParser(
        prog=f"skill_generation/{env_name}.py",
        description=f"Generate a {env_name} skill bank from memories (original memory format).",
    )
    parser.add_argument("--memory_path", required=True, help="memories: a JSON array in the original format")
    parser.add_argument("--output_path", required=True, help="where to write the skill bank JSON")
    parser.add_argument("--llm", default="heuristic",
                        help="heuristic (no LLM), openai (OPENAI_API_KEY/OPENAI_BASE_URL) or azure (AZURE_OPENAI_*)")
    parser.add_argument("--model", default=None, help="model or Azure deployment name (default: gpt-4o-mini)")
    parser.add_argument("--cache_dir", default=None, help="resume cache directory (default: none)")
    parser.add_argument("--no_progress", action="store_true", help="hide progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    try:
        memories = read_memories(args.memory_path)
        classify, categories = env_taxonomy(env_name)
        config = LLMConfig(model=args.model) if args.model else LLMConfig()
        distiller = build_distiller(args.llm, config)
        print(f"Loaded {len(memories)} memories from {args.memory_path}; distiller: {args.llm}")
        bank = build_bank(memories, distiller, env_name=env_name, classify=classify, categories=categories,
                          env_description=ENV_DESCRIPTIONS.get(env_name, ""), cache=JsonCache(args.cache_dir),
                          progress=not args.no_progress)
        bank.save(args.output_path)
    except (MemoryFormatError, LLMError, SkillBankError, ValueError, KeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n_task = sum(len(v) for v in bank.task_specific_skills.values())
    print(f"General skills: {len(bank.general_skills)}")
    print(f"Task-specific skills: {n_task} over {len(bank.task_specific_skills)} task types")
    print(f"Common mistakes: {len(bank.common_mistakes)}")
    print(f"Saved to: {args.output_path}")
    client = getattr(distiller, "client", None)
    if client is not None:
        print(f"LLM usage: {client.usage_line()}")
    return 0
