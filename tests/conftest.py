"""Suite-wide settings: no test may depend on how fast the machine is (CI is a loaded 2-core VM)."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("replayflow", deadline=None)  # hypothesis's per-example deadline is a timed assertion
settings.load_profile("replayflow")
