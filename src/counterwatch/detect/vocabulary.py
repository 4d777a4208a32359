"""The phrase classes of ``data/vocabulary.toml`` as regular expressions over the plain view."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources

from counterwatch.detect.normalize import plain

_HAN = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class PhraseClass:
    name: str
    phrases: tuple[str, ...]

    @property
    def regex(self) -> str:
        """One regex (Rust syntax, for Polars): Latin phrases as whole words (ASCII boundaries), Chinese anywhere."""
        return self._alternatives(r"(?-u:\b)")

    def compiled(self) -> re.Pattern[str]:
        """The same regex for Python's engine (the one-listing path): ``\b`` is ASCII under ``re.ASCII``."""
        return re.compile(self._alternatives(r"\b"), re.ASCII)

    def _alternatives(self, boundary: str) -> str:
        parts = []
        for p in sorted({plain(p) for p in self.phrases}, key=len, reverse=True):
            escaped = re.escape(p)
            if _HAN.search(p):
                parts.append(escaped)
            else:
                left = boundary if p[0].isalnum() else ""
                right = boundary if p[-1].isalnum() else ""
                parts.append(f"{left}{escaped}{right}")
        return "|".join(parts)


def load_vocabulary(text: str | None = None) -> dict[str, PhraseClass]:
    """Phrase classes from TOML text (default: the packaged ``data/vocabulary.toml``)."""
    if text is None:
        text = resources.files("counterwatch.detect").joinpath("data/vocabulary.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return {name: PhraseClass(name, tuple(section["phrases"])) for name, section in data.items()}
