"""Store identifiers as sellers type them: one real-world entity, many spellings.

An *entity* (a phone number, a bank account, a place) is an integer key. Its canonical
value is a fixed function of the key (``hashing.key_int``), so every store that holds the
entity holds the same number or place; each row then picks its own spelling (``+86 138
0013 8000`` or ``13800138000``; ``浙江省杭州市…`` or ``Rm 201, Bldg 3, … Hangzhou``).
Rendering is column-wise Polars, one expression per format.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from counterwatch.synth.hashing import hex64, key_int, mix64, uniform01
from counterwatch.synth.places import (
    BANKS,
    CITIES,
    COUNTERFEIT_REGIONS,
    DIVISION_CODES,
    EMAIL_DOMAINS,
    GIVEN_NAMES,
    LEGIT_REGIONS,
    STREETS,
    SURNAMES,
)
from counterwatch.synth.text import strs

Renderer = Callable[[np.ndarray, np.ndarray, np.random.Generator], pl.Series]
MOBILE_PREFIXES = np.array([130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 157, 158, 159,
                            166, 177, 180, 181, 186, 187, 188, 189, 199])  # fmt: skip
IP_FIRST_OCTETS = np.array([36, 39, 58, 60, 101, 106, 110, 112, 113, 114, 115, 117, 119, 121, 123, 124, 171,
                            175, 180, 182, 183, 211, 218, 221, 222, 223])  # fmt: skip
LICENSE_ALPHABET = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"))
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = np.array(list("10X98765432"))


def _str(values: np.ndarray) -> pl.Series:
    return pl.Series(values).cast(pl.String)


def _digits(values: np.ndarray, width: int) -> pl.Series:
    return pl.Series(values.astype(np.int64)).cast(pl.String).str.zfill(width)


def _by_format(fmt: np.ndarray, columns: dict[str, pl.Series], formats: list[pl.Expr]) -> pl.Series:
    """Row ``i`` gets ``formats[fmt[i]]`` evaluated over ``columns``."""
    df = pl.DataFrame({"_fmt": fmt.astype(np.int64), **columns})
    expr = pl.when(pl.col("_fmt") == 0).then(formats[0])
    for i, f in enumerate(formats[1:], start=1):
        expr = expr.when(pl.col("_fmt") == i).then(f)
    return df.select(expr.otherwise(formats[0]).alias("v"))["v"]


def _fmt(rng: np.random.Generator, n: int, p: list[float]) -> np.ndarray:
    return rng.choice(len(p), size=n, p=np.array(p) / sum(p))


def _c(*parts: str | pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit(p) if isinstance(p, str) else p for p in parts])


def render_phone(keys: np.ndarray, cf: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """A Chinese mobile number in one of the ways people write it."""
    cols = {
        "a": _str(MOBILE_PREFIXES[key_int(keys, 11, len(MOBILE_PREFIXES))]),
        "b": _digits(key_int(keys, 12, 10_000), 4),
        "c": _digits(key_int(keys, 13, 10_000), 4),
    }
    a, b, c = pl.col("a"), pl.col("b"), pl.col("c")
    formats = [_c(a, b, c), _c("+86 ", a, " ", b, " ", c), _c(a, "-", b, "-", c), _c("0086", a, b, c),
               _c("+86", a, b, c), _c(a, " ", b, " ", c), _c("(+86) ", a, "-", b, "-", c)]  # fmt: skip
    return _by_format(_fmt(rng, len(keys), [4, 2, 1.5, 0.7, 1, 1, 0.5]), cols, formats)


def _names(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return key_int(keys, 21, len(SURNAMES)), key_int(keys, 22, len(GIVEN_NAMES))


def render_email(keys: np.ndarray, cf: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Case changes everywhere; dots and ``+tags`` only where the provider ignores them (gmail-like)."""
    n = len(keys)
    sur, giv = _names(keys)
    dom = key_int(keys, 23, len(EMAIL_DOMAINS))
    gmail_like = np.array([g for _, g in EMAIL_DOMAINS])[dom]
    qq = dom == 0
    number = key_int(keys, 24, 1_000_000)  # wide enough that two people rarely get one address
    cols = {
        "s": _str(np.array([p for _, p in SURNAMES])[sur]).str.to_lowercase(),
        "g": _str(np.array([p for _, p in GIVEN_NAMES])[giv]).str.to_lowercase(),
        "num": _str(number),
        "qq": _str(key_int(keys, 25, 9 * 10**8) + 10**8),
        "dom": _str(np.array([d for d, _ in EMAIL_DOMAINS])[dom]),
        "tag": _str(np.array(["shop", "store", "tb", "2", "jd", "sale"], dtype=object)[rng.integers(0, 6, n)]),
    }
    s, g, num, d = pl.col("s"), pl.col("g"), pl.col("num"), pl.col("dom")
    fmt = _fmt(rng, n, [6, 1, 1, 1.2, 0.8])
    fmt = np.where(qq, 5 + (fmt % 2), np.where(gmail_like | (fmt < 3), fmt, 0))
    formats = [
        _c(s, g, num, "@", d),  # plain
        _c(s, g, num, "@", d).str.to_uppercase(),  # caps lock
        _c(s.str.to_titlecase(), g.str.to_titlecase(), num, "@", d),
        _c(s, ".", g, num, "@", d),  # gmail ignores dots
        _c(s, g, num, "+", pl.col("tag"), "@", d),  # and +tags
        _c(pl.col("qq"), "@", d),  # QQ mail: the QQ number
        _c(pl.col("qq"), "@", d.str.to_uppercase()),
    ]
    return _by_format(fmt, cols, formats)


def render_id_number(keys: np.ndarray, cf: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """An 18-character resident ID with a valid ISO 7064 check character; sometimes spaced or with a lower-case x."""
    div = np.array(DIVISION_CODES)[key_int(keys, 31, len(DIVISION_CODES))]
    year, month, day = 1960 + key_int(keys, 32, 41), 1 + key_int(keys, 33, 12), 1 + key_int(keys, 34, 28)
    seq = key_int(keys, 35, 1000)
    body = np.char.add(np.char.add(div.astype(str), (year * 10000 + month * 100 + day).astype(str)),
                       np.char.zfill(seq.astype(str), 3))  # fmt: skip
    digits = body.astype("S17").view(np.uint8).reshape(-1, 17) - ord("0")
    check = ID_CHECK[(digits * ID_WEIGHTS).sum(axis=1) % 11]
    cols = {"body": pl.Series(body), "chk": pl.Series(check)}
    b, k = pl.col("body"), pl.col("chk")
    formats = [
        _c(b, k),
        _c(b, k.str.to_lowercase()),
        _c(b.str.slice(0, 6), " ", b.str.slice(6, 8), " ", b.str.slice(14), k),
    ]
    return _by_format(_fmt(rng, len(keys), [7, 1, 2]), cols, formats)


def render_license(keys: np.ndarray, cf: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """A unified social credit code (18 characters)."""
    div = np.array(DIVISION_CODES)[key_int(keys, 41, len(DIVISION_CODES))]
    tail = np.stack([LICENSE_ALPHABET[key_int(keys, 42 + i, len(LICENSE_ALPHABET))] for i in range(10)], axis=1)
    cols = {"div": pl.Series(div), "tail": pl.Series(np.ascontiguousarray(tail.astype("U1")).view("U10").ravel())}
    code = _c("91", pl.col("div"), pl.col("tail"))
    formats = [code, code.str.to_lowercase(), _c("91 ", pl.col("div"), " ", pl.col("tail"))]
    return _by_format(_fmt(rng, len(keys), [7.5, 1, 1.5]), cols, formats)


def _grouped(col: pl.Expr, sep: str, total: int) -> pl.Expr:
    return pl.concat_str([col.str.slice(i, 4) for i in range(0, total, 4)], separator=sep)


def render_bank_account(keys: np.ndarray, cf: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """A 19-digit UnionPay card number: plain, in groups of four, or after the bank's name."""
    prefix = np.array(["6222", "6228", "6217", "6214"])[key_int(keys, 51, 4)]
    cols = {
        "acct": pl.Series(prefix) + _digits(key_int(keys, 52, 10**8), 8) + _digits(key_int(keys, 53, 10**7), 7),
        "bank": pl.Series(np.array(BANKS)[key_int(keys, 54, len(BANKS))]),
    }
    a = pl.col("acct")
    formats = [a, _grouped(a, " ", 19), _c(pl.col("bank"), " ", a), _grouped(a, "-", 19)]
    return _by_format(_fmt(rng, len(keys), [4, 3.5, 1.5, 1]), cols, formats)


def render_payment_account(keys: np.ndarray, cf: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """An Alipay-style 16-digit account id."""
    cols = {"acct": "2088" + _digits(key_int(keys, 61, 10**6), 6) + _digits(key_int(keys, 62, 10**6), 6)}
    a = pl.col("acct")
    formats = [a, _grouped(a, " ", 16), _c("支付宝 ", a), _c("alipay:", a)]
    return _by_format(_fmt(rng, len(keys), [5, 2, 1.5, 1.5]), cols, formats)


def _city_weights(regions: dict[str, float]) -> np.ndarray:
    per_region = {r: sum(1 for c in CITIES if c[2] == r) for r in regions}
    w = np.array([regions.get(c[2], 0.0) / max(per_region.get(c[2], 1), 1) for c in CITIES]) + 1e-3
    return np.cumsum(w / w.sum())


_CF_CITIES, _LEGIT_CITIES = _city_weights(COUNTERFEIT_REGIONS), _city_weights(LEGIT_REGIONS)


def address_city(keys: np.ndarray, cf: np.ndarray) -> np.ndarray:
    """Index into ``CITIES`` of a place entity; counterfeiters cluster in Putian, Guangzhou, Yiwu."""
    u = uniform01(keys, 71)
    return np.where(cf, np.searchsorted(_CF_CITIES, u), np.searchsorted(_LEGIT_CITIES, u)).clip(0, len(CITIES) - 1)


def render_address(keys: np.ndarray, cf: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """A Chinese street address in Chinese, pinyin, abbreviated or lower-case unpunctuated form."""
    city = address_city(keys, cf)
    n_dist = np.array([len(c[5]) for c in CITIES])
    dist = key_int(keys, 72, 6) % n_dist[city]
    street = key_int(keys, 73, len(STREETS))
    districts = [d for c in CITIES for d in c[5]]
    dist_flat = np.cumsum([0] + [len(c[5]) for c in CITIES])[:-1][city] + dist

    def col(values: list[str], idx: np.ndarray) -> pl.Series:
        return strs(np.array(values, dtype=object)[idx])

    cols = {
        "pz": col([c[0] if c[0] != c[3] else "" for c in CITIES], city),  # municipalities: no province part
        "pp": col([c[1] for c in CITIES], city),
        "cz": col([c[3] for c in CITIES], city),
        "cp": col([c[4] for c in CITIES], city),
        "dz": col([d[0] for d in districts], dist_flat),
        "dp": col([d[1] for d in districts], dist_flat),
        "sz": col([s[0] for s in STREETS], street),
        "sp": col([s[1] for s in STREETS], street),
        "no": _str(1 + key_int(keys, 74, 1200)),
        "bd": _str(1 + key_int(keys, 75, 20)),
        "rm": _str(101 + key_int(keys, 76, 20) * 100 + key_int(keys, 77, 8)),
    }
    pz, pp, cz, cp, dz, dp, sz, sp, no, bd, rm = (pl.col(k) for k in cols)
    formats = [
        _c(pz, cz, dz, sz, no, "号", bd, "栋", rm, "室"),
        _c(cz, dz, sz, no, "号", bd, "-", rm),
        _c("Room ", rm, ", Building ", bd, ", No. ", no, " ", sp, " Road, ", dp, " District, ", cp, ", ", pp),
        _c("Rm ", rm, " Bldg ", bd, " No.", no, " ", sp, " Rd., ", dp, " Dist., ", cp),
        _c(no, " ", sp, " road ", dp, " ", cp, " ", pp, " china").str.to_lowercase(),
        _c(pz, " ", cz, " ", dz, " ", sz, " ", no, "号"),
    ]
    return _by_format(_fmt(rng, len(keys), [4, 2, 2, 1.5, 0.7, 1]), cols, formats)


def render_device_id(keys: np.ndarray, cf: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """A device UUID: dashed or not, upper or lower case."""
    hexs = np.char.add(hex64(mix64(mix64(keys) + np.uint64(81))), hex64(mix64(mix64(keys) + np.uint64(82)))).astype(str)
    cols = {"h": pl.Series(hexs)}
    h = pl.col("h")
    dashed = _c(
        h.str.slice(0, 8),
        "-",
        h.str.slice(8, 4),
        "-",
        h.str.slice(12, 4),
        "-",
        h.str.slice(16, 4),
        "-",
        h.str.slice(20),
    )
    formats = [dashed, dashed.str.to_uppercase(), h, h.str.to_uppercase()]
    return _by_format(_fmt(rng, len(keys), [5, 2, 2, 1]), cols, formats)


def render_ip(keys: np.ndarray, cf: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """An IPv4 address from Chinese ISP ranges."""
    octets = [_str(IP_FIRST_OCTETS[key_int(keys, 91, len(IP_FIRST_OCTETS))])]
    octets += [_str(key_int(keys, 92 + i, 255) + (i == 2)) for i in range(3)]
    return pl.DataFrame({f"o{i}": o for i, o in enumerate(octets)}).select(
        pl.concat_str(pl.all(), separator=".").alias("v")
    )["v"]


def render_contact_name(keys: np.ndarray, cf: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """A person's name in characters or pinyin, in either order and any case."""
    sur, giv = _names(keys)
    cols = {
        "sz": pl.Series(np.array([z for z, _ in SURNAMES])[sur]),
        "gz": pl.Series(np.array([z for z, _ in GIVEN_NAMES])[giv]),
        "sp": pl.Series(np.array([p for _, p in SURNAMES])[sur]),
        "gp": pl.Series(np.array([p for _, p in GIVEN_NAMES])[giv]),
    }
    sz, gz, sp, gp = (pl.col(k) for k in cols)
    formats = [_c(sz, gz), _c(sp, " ", gp), _c(sp, " ", gp).str.to_uppercase(), _c(gp, " ", sp),
               _c(sp, gp).str.to_lowercase()]  # fmt: skip
    return _by_format(_fmt(rng, len(keys), [5.5, 2, 1, 1, 0.5]), cols, formats)


RENDERERS: dict[str, Renderer] = {
    "phone": render_phone,
    "email": render_email,
    "id_number": render_id_number,
    "business_license": render_license,
    "bank_account": render_bank_account,
    "payment_account": render_payment_account,
    "address": render_address,
    "return_address": render_address,  # same places: a store's return address is often its address
    "warehouse": render_address,
    "device_id": render_device_id,
    "ip": render_ip,
    "contact_name": render_contact_name,
}
