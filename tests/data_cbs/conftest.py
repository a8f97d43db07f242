"""Make fake_cbs importable for the adapter tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
