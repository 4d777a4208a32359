"""The tables of the data contract (``shared/DATA_CONTRACT.md``) as data.

One ``TableSpec`` per tabular input. The reader, the validator and the synthetic
generator all work from these specs, so the contract is written down once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

#: Column kinds and the Arrow type a valid value has after reading.
ARROW_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),  # non-empty, unique within the table
    "ref": pa.string(),  # non-empty, must name a valid row of another table
    "text": pa.string(),  # free text in any language; missing reads as ""
    "code": pa.string(),  # one of a fixed set of lower-case words
    "country": pa.string(),  # ISO 3166-1 alpha-2, upper case
    "region": pa.string(),  # ISO 3166-2 subdivision, upper case
    "currency": pa.string(),  # ISO 4217, upper case, with a rate into the base currency
    "timestamp": pa.timestamp("us", tz="UTC"),
    "amount": pa.float64(),  # money or a rate: finite decimal
    "integer": pa.int64(),
    "hashes": pa.list_(pa.string()),  # 64-bit perceptual hashes, 16 lower-case hex digits each
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = True  # the column must be present in the file
    empty_ok: bool = False  # a row may leave it empty
    domain: tuple[str, ...] = ()
    references: str | None = None  # "table.column"
    minimum: float | None = None
    exclusive_minimum: bool = False
    maximum: float | None = None  # exclusive: a sanity bound that catches unit and export mistakes

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.kind]


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    required: bool = False
    id_column: str | None = None
    description: str = ""
    _by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    def column(self, name: str) -> Column:
        return self._by_name[name]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.empty_ok) for c in self.columns])


STORE_STATUSES = ("active", "suspended", "closed")
IDENTIFIER_KINDS = (
    "phone", "email", "id_number", "business_license", "bank_account", "payment_account",
    "address", "return_address", "warehouse", "device_id", "ip", "contact_name",
)  # fmt: skip
NOTICE_BASES = ("trademark", "copyright", "design", "patent")
LABELS = ("counterfeit", "genuine")
LABEL_SOURCES = ("test_buy", "review", "notice_upheld", "appeal_upheld")

FX_RATES = TableSpec(
    "fx_rates",
    (
        Column("currency", "currency"),
        Column("to_base", "amount", minimum=0, exclusive_minimum=True, maximum=1e6),
    ),
    id_column="currency",
    description="rates into the base currency",
)
STORES = TableSpec(
    "stores",
    (
        Column("store_id", "id"),
        Column("seller_id", "text"),
        Column("name", "text"),
        Column("created_at", "timestamp"),
        Column("country", "country"),
        Column("region", "region", required=False, empty_ok=True),
        Column("status", "code", domain=STORE_STATUSES),
    ),
    required=True,
    id_column="store_id",
)
STORE_IDENTIFIERS = TableSpec(
    "store_identifiers",
    (
        Column("store_id", "ref", references="stores.store_id"),
        Column("kind", "code", domain=IDENTIFIER_KINDS),
        # Kept as entered even when empty or a placeholder: linking marks such values unusable.
        Column("value", "text"),
    ),
)
LISTINGS = TableSpec(
    "listings",
    (
        Column("listing_id", "id"),
        Column("store_id", "ref", references="stores.store_id"),
        Column("title", "text"),
        Column("description", "text"),
        Column("category", "text"),
        Column("brand", "text", required=False),
        Column("price", "amount", minimum=0, maximum=1e12),
        Column("currency", "currency"),
        Column("stock", "integer", minimum=0),
        Column("created_at", "timestamp"),
        Column("image_hashes", "hashes", required=False),
    ),
    required=True,
    id_column="listing_id",
)
ORDERS = TableSpec(
    "orders",
    (
        Column("order_id", "id"),
        Column("listing_id", "ref", references="listings.listing_id"),
        Column("quantity", "integer", minimum=0, exclusive_minimum=True),
        Column("unit_price", "amount", minimum=0, maximum=1e12),
        Column("currency", "currency"),
        Column("ordered_at", "timestamp"),
        Column("ship_from", "region", empty_ok=True),
        Column("buyer_region", "region", empty_ok=True),
    ),
    id_column="order_id",
)
NOTICES = TableSpec(
    "notices",
    (
        Column("notice_id", "id"),
        Column("brand_id", "ref", references="brands.brand_id"),
        Column("listing_id", "ref", references="listings.listing_id"),
        Column("basis", "code", domain=NOTICE_BASES),
        Column("registration_no", "text"),
        Column("evidence", "text"),
        Column("submitted_at", "timestamp"),
    ),
    id_column="notice_id",
)
LABELS_TABLE = TableSpec(
    "labels",
    (
        Column("listing_id", "ref", references="listings.listing_id"),
        Column("label", "code", domain=LABELS),
        Column("source", "code", domain=LABEL_SOURCES),
        Column("decided_at", "timestamp"),
    ),
)

#: Tabular inputs in the order they are validated: a table comes after every table it references.
#: ``brands`` (brands.json) is validated between ``orders`` and ``notices``.
TABLES: dict[str, TableSpec] = {
    t.name: t for t in (FX_RATES, STORES, STORE_IDENTIFIERS, LISTINGS, ORDERS, NOTICES, LABELS_TABLE)
}
BRANDS = "brands"
#: Every input the validator reports on, in validation order.
ALL_TABLES = ("fx_rates", "stores", "store_identifiers", "listings", "orders", "brands", "notices", "labels")
