"""Generate a alfworld skill bank from memories (the original's interface):

    python skill_generation/alfworld.py --memory_path MEMORIES.json --output_path BANK.json [--llm heuristic|openai|azure]
"""

import sys
from pathlib import Path

# this folder holds alfworld.py / webshop.py / search.py: keep it off sys.path so that the real
# packages of those names stay importable, and import the helpers from the checkout root
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from skill_generation._skillgen import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("alfworld"))
