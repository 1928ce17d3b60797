"""Shared fixtures: the tests directory on sys.path (for `builders`), and the local stack."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
