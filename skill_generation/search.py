"""Generate a search skill bank from memories: `python skill_generation/search.py --memory_path M.json --output_path B.json [--llm heuristic|openai|azure]`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _skillgen import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("search"))
