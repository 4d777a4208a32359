"""Synthetic marketplace with ground truth, for the demo, the tests and the benchmarks.

``generate(out_dir, listings=..., seed=...)`` writes every table of the data contract
plus ``truth/``. See ``docs/synthetic-data.md`` for what it makes and why.
"""

from counterwatch.synth.config import SynthConfig
from counterwatch.synth.generator import SynthResult, generate

__all__ = ["SynthConfig", "SynthResult", "generate"]
