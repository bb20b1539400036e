"""Makes scripts/notebooks.py importable by the tests (`import notebooks`): one nbclient setup for all."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
