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


#: Bits of evidence an identifier kind gives a pair of stores when the two are the only ones
#: sharing the value (tuned on the generator; docs/linking.md). Each further store sharing the same
#: value takes log2 of the sharers away: a warehouse shared by 300 stores says nothing.
DEFAULT_LINK_WEIGHTS: dict[str, float] = {
    "id_number": 14.0, "business_license": 13.0, "bank_account": 13.0, "payment_account": 12.0, "email": 12.0,
    "phone": 12.0, "device_id": 11.0, "address": 10.0, "return_address": 9.0, "warehouse": 6.0, "ip": 9.0,
    "contact_name": 3.0, "photo": 7.0,
}  # fmt: skip


class LinkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: per identifier kind (and "photo"): bits for a value shared by exactly two stores
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_LINK_WEIGHTS))
    #: bits a pair of stores needs to be linked (the sum over everything they share)
    threshold: float = Field(9.0, gt=0)
    #: a shared value counts only while it still gives at least this many bits (this also bounds the
    #: pairs a popular value would generate)
    min_value_bits: float = Field(1.0, ge=0)
    #: a value shared by 3+ stores keeps its full bits only when at least this share of the pairs
    #: sharing it also share a value of another family (decoys share nothing else)
    cohesion_full: float = Field(0.5, gt=0, le=1)
    #: values shared by fewer stores keep their bits whatever their cohesion (too few pairs to judge;
    #: a chain operator's value passed along three stores shares nothing else)
    cohesion_min_stores: int = Field(5, ge=3)
    #: an operator larger than this is split by raising the threshold inside it until it is not: the
    #: guard against a chain of weak links gluing strangers together
    max_operator_stores: int = Field(500, ge=2)
    #: photos of two stores' listings within this Hamming distance (of 64 bits) are the same photo
    photo_distance: int = Field(2, ge=0, le=12)

    @field_validator("weights")
    @classmethod
    def _families(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(DEFAULT_LINK_WEIGHTS))
        if unknown:
            raise ValueError(f"unknown identifier kind{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                             f"use {', '.join(DEFAULT_LINK_WEIGHTS)}")  # fmt: skip
        return {**DEFAULT_LINK_WEIGHTS, **value}


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workspace: WorkspaceSettings = WorkspaceSettings()
    detect: DetectSettings = DetectSettings()
    link: LinkSettings = LinkSettings()


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

[link]
# Stores are linked into one operator when what they share adds up to `threshold` bits. A value
# shared by exactly two stores gives its family's weight; each doubling of the stores sharing it
# takes one bit away (a fulfilment warehouse used by hundreds of stores gives nothing).
threshold = 9.0
min_value_bits = 1.0
cohesion_full = 0.5
cohesion_min_stores = 5
max_operator_stores = 500
photo_distance = 2

[link.weights]
# Per identifier kind. A value written as two kinds (one store's address, another's warehouse)
# counts at the weaker kind's weight.
id_number = 14.0
business_license = 13.0
bank_account = 13.0
payment_account = 12.0
email = 12.0
phone = 12.0
device_id = 11.0
address = 10.0
return_address = 9.0
warehouse = 6.0        # fulfilment warehouses are shared by design
ip = 9.0               # offices and carriers share exit addresses: popular ones fade by frequency
contact_name = 3.0     # common names are shared by strangers
photo = 7.0            # the same product photo in two stores' listings (official shots are shared widely)
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
