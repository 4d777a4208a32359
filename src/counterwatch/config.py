"""``counterwatch.toml`` → typed settings. Every setting has a default that works.

Later stages add their sections here (score bands, penalty policy, statutory
thresholds); each is a pydantic model so a bad value is reported with its key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pycountry
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from counterwatch.errors import ConfigError

CONFIG_FILE = "counterwatch.toml"


class WorkspaceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_currency: str = "CNY"

    @field_validator("base_currency")
    @classmethod
    def _iso_4217(cls, value: str) -> str:
        code = value.strip().upper()
        if pycountry.currencies.get(alpha_3=code) is None:
            raise ValueError(f"'{value}' is not an ISO 4217 currency code")
        return code


class DetectSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    block_at: float = Field(0.9, ge=0, le=1)
    review_at: float = Field(0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> DetectSettings:
        if self.review_at > self.block_at:
            raise ValueError(f"review_at ({self.review_at}) must not exceed block_at ({self.block_at})")
        return self


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workspace: WorkspaceSettings = WorkspaceSettings()
    detect: DetectSettings = DetectSettings()


DEFAULT_TOML = """\
# counterwatch settings for this workspace. Every key is optional: delete a line
# and its default applies. Documented in docs/configuration.md.

[workspace]
# Amounts in every table are converted to this ISO 4217 currency with fx_rates
# (amount_in_base = amount * to_base). Statutory thresholds are stated in it.
base_currency = "CNY"

[detect]
# A listing's risk (0..1) decides its band: block at or above block_at, review at or above
# review_at, allow below. Enforcement takes blocked listings down and queues reviews.
block_at = 0.9
review_at = 0.5
"""


def load_settings(root: Path) -> Settings:
    """Settings of the workspace at ``root``: its ``counterwatch.toml`` over the defaults."""
    path = root / CONFIG_FILE
    if not path.is_file():
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise ConfigError(f"{path}: {problems}") from exc
