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
        """One regex: Latin phrases as whole words (ASCII boundaries), Chinese phrases anywhere."""
        parts = []
        for p in sorted({plain(p) for p in self.phrases}, key=len, reverse=True):
            escaped = re.escape(p)
            if _HAN.search(p):
                parts.append(escaped)
            else:
                left = r"(?-u:\b)" if p[0].isalnum() else ""
                right = r"(?-u:\b)" if p[-1].isalnum() else ""
                parts.append(f"{left}{escaped}{right}")
        return "|".join(parts)


def load_vocabulary(text: str | None = None) -> dict[str, PhraseClass]:
    """Phrase classes from TOML text (default: the packaged ``data/vocabulary.toml``)."""
    if text is None:
        text = resources.files("counterwatch.detect").joinpath("data/vocabulary.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return {name: PhraseClass(name, tuple(section["phrases"])) for name, section in data.items()}
