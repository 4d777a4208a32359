"""``brands.json``: the rights-holder registry, validated brand by brand with pydantic."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from counterwatch.errors import InputError

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
#: An id: a JSON number is taken as its text, as a CSV or JSON Lines table reads it (12345 -> "12345").
Id = Annotated[str, Field(coerce_numbers_to_str=True), StringConstraints(strip_whitespace=True, min_length=1)]


class Trademark(BaseModel):
    model_config = ConfigDict(extra="allow")

    registration_no: Id
    office: NonEmpty
    mark: NonEmpty
    classes: list[Annotated[int, Field(ge=1, le=45)]] = []  # Nice classification: 1..45
    expires: dt.date


class Product(BaseModel):
    model_config = ConfigDict(extra="allow")

    product_id: Id
    name: NonEmpty
    category: str = ""
    keywords: list[str] = []
    reference_price: Annotated[float, Field(gt=0)]
    currency: NonEmpty

    @field_validator("reference_price")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class Brand(BaseModel):
    model_config = ConfigDict(extra="allow")

    brand_id: Id
    name: NonEmpty
    aliases: list[str] = []
    owner: NonEmpty
    trademarks: list[Trademark] = []
    products: list[Product] = []
    authorized_stores: list[Id] = []


def read_brands_file(path: Path) -> list[Any]:
    """The JSON array in ``brands.json``; a file that does not parse is an ``InputError`` naming the line.

    An empty file is an empty registry; a UTF-8 byte order mark is accepted, as in CSV.
    """
    data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        return []
    try:
        data = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, list):
        raise InputError(f"{path}: should hold a JSON array of brand objects, found {type(data).__name__}")
    return data


def brand_id_text(obj: Any) -> str | None:
    """The id of a brand object as text (numbers included), or ``None`` when it has no usable one."""
    value = obj.get("brand_id") if isinstance(obj, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = (value if isinstance(value, str) else str(value)).strip()
    return text or None


def check_brand(obj: Any, known_currencies: set[str]) -> tuple[Brand | None, list[str]]:
    """Validate one brand object: the model, or ``None`` and every reason it is unusable."""
    if not isinstance(obj, dict):
        return None, [f"brand: should be a JSON object, found {type(obj).__name__}"]
    try:
        brand = Brand.model_validate(obj)
    except ValidationError as exc:
        return None, [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)]
    reasons = [
        f"products.{i}.currency: '{p.currency}' is not the base currency or a currency listed in fx_rates"
        for i, p in enumerate(brand.products)
        if p.currency not in known_currencies
    ]
    seen: set[str] = set()
    for i, p in enumerate(brand.products):
        if p.product_id in seen:
            reasons.append(f"products.{i}.product_id: duplicate '{p.product_id}' within the brand")
        seen.add(p.product_id)
    return (None, reasons) if reasons else (brand, [])
