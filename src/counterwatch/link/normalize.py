"""Store identifiers normalised to keys that meet when two spellings name the same thing.

One row of ``store_identifiers`` (``kind``, ``value`` as the seller typed it) plus the store's
``country`` becomes a ``key`` (``family:canonical form``), or no key and a ``reason`` when the value
identifies no one (empty, a placeholder, unparseable, a bad check digit, a private IP). Kinds
that name the same sort of thing share a family, so they meet across kinds:

=================================================  ========  ==========================================
kinds                                              family    canonical form
=================================================  ========  ==========================================
phone; payment_account that is a phone number      phone:    E.164 (phonenumbers, store's country first)
email; payment_account that is an e-mail address   email:    lower case; dots and +tags per provider
id_number, business_license                        id:       upper case, letters and digits only
bank_account, payment_account (an account number)  acct:     digits (IBANs: letters and digits)
address, return_address, warehouse                 addr:     street, numbers, places (``address.py``)
device_id                                          device:   lower-case letters and digits (hex)
ip                                                 ip:       ``ipaddress``'s compressed form
contact_name                                       name:     sorted pinyin syllables (``address.py``)
=================================================  ========  ==========================================

Every value is first *folded* (NFKC, lower case, zero-width and private-use characters removed,
whitespace collapsed and trimmed); the placeholder rules and each kind's rules read the folded
text, and reasons quote it.

Two entry points give the same answer for every row (tests hold them to it): ``normalize_one``
for one store at sign-up (pure Python, microseconds), and ``normalize_identifiers`` for a
workspace. The latter works on the distinct (kind, value, country) triples only: Polars
expressions for the common shapes, and ``normalize_one``'s own per-kind functions for the rest
(phone numbers other than a plain Chinese mobile, IBANs, IPv6, and addresses and names, which
run in Python on their few distinct templates and names). Rules that are data (placeholders,
e-mail providers, address words, IP ranges) live in ``data/identifiers.toml``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
import polars as pl

from counterwatch.contract.schema import IDENTIFIER_KINDS
from counterwatch.link.address import (
    BLOCK,
    DIGITS,
    LEADING_ZEROS,
    MARKER,
    address_block,
    address_body,
    address_key_template,
    name_body,
)
from counterwatch.link.text import Sub, alternation, fold, fold_frame, rules, strip_ws, strip_ws_expr

Result = tuple[str | None, str | None]  # (key, reason): exactly one is None
KindFn = Callable[[str, str | None], Result]  # (folded value, country) -> result

FAMILY = {
    "phone": "phone", "email": "email", "id_number": "id", "business_license": "id", "bank_account": "acct",
    "payment_account": "acct", "address": "addr", "return_address": "addr", "warehouse": "addr",
    "device_id": "device", "ip": "ip", "contact_name": "name",
}  # fmt: skip
assert set(FAMILY) == set(IDENTIFIER_KINDS)
OUTPUT_COLUMNS = ("key", "fuzzy_key", "usable", "reason")

EMPTY = "empty"
#: Separators removed before comparing a value with the placeholder patterns.
COMPACT = "[ \\-.()/:_,;]"
#: The placeholder patterns read values made only of these (and separators): 000000, xxx, ***, 123456.
PATTERN_CHARS = "^[0-9x*?#]*$"
PATTERN_CANDIDATE = "^[0-9x*?# \\-.()/:_,;]*$"
PHONE_SEPARATORS = "[ \\-.()/]"
#: The shapes of a Chinese mobile number the vectorised path resolves without phonenumbers.
CN_MOBILE_SHAPE = "^(\\+86|0086|86)?(1[0-9]{10})$"
PAYMENT_PHONE_SHAPE = "^(?:00)?(?:86)?1[3-9][0-9]{9}$"
EMAIL_SHAPE = "^([^@ ]+)@([^@ ]+\\.[^@ ]+)$"
IPV4_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_SHAPE = f"^{IPV4_OCTET}\\.{IPV4_OCTET}\\.{IPV4_OCTET}\\.{IPV4_OCTET}$"
IBAN_SHAPE = "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"
RESIDENT_ID_18 = "^[0-9]{17}[0-9X]$"
RESIDENT_ID_15 = "^[0-9]{15}$"
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
MIN_LENGTH = {"id": 5, "acct": 6, "device": 8}
#: phonenumbers' number types: a valid number matches one of them.
NUMBER_TYPES = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number", "voip",
                "pager", "uan", "voicemail")  # fmt: skip
#: Addresses with more numbers than this leave the vectorised path for Python.
BATCH_NUMBERS = 8


SUBS = {
    "email_dots": Sub("[。｡]", "."),
    "mailto": Sub("^mailto:", ""),
    "plus_tag": Sub("\\+.*$", ""),
    "not_alnum_upper": Sub("[^0-9A-Z]", ""),
    "not_alnum_lower": Sub("[^0-9a-z]", ""),
    "not_digit": Sub("[^0-9]", ""),
    "phone_sep": Sub(PHONE_SEPARATORS, ""),
    "compact": Sub(COMPACT, ""),
    "bank_sep": Sub("[ \\-.]", ""),
}


@cache
def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# ---------------------------------------------------------------------------------------------
# Rules (from data/identifiers.toml)


@dataclass(frozen=True)
class Rules:
    placeholder_values: frozenset[str]
    placeholder_kind_values: dict[str, frozenset[str]]
    placeholder_pattern: str  # one regex: any of the TOML's patterns
    dummy_addresses: frozenset[str]
    dummy_domain_pattern: str
    local_equal_to_domain_is_dummy: bool
    email_aliases: dict[str, str]
    email_dots: frozenset[str]
    email_plus: frozenset[str]
    phone_regions: tuple[str, ...]
    phone_placeholder_pattern: str
    payment_label_pattern: str
    ip_special: tuple[tuple[int, int, str], ...]  # (first, last, reason)


@cache
def load_rules() -> Rules:
    """The packaged rules, compiled once."""
    data = rules()
    ph, email, pay = data["placeholders"], data["email"], data["payment"]
    aliases, dots, plus = {}, set(), set()
    for domain, p in email["providers"].items():
        aliases.update(dict.fromkeys(p.get("aliases", []), domain))
        if p.get("ignore_dots"):
            dots.add(domain)
        if p.get("plus_tags"):
            plus.add(domain)
    specials = []
    for s in data["ip"]["special"]:
        net = ipaddress.IPv4Network(s["cidr"])
        specials.append((int(net.network_address), int(net.broadcast_address), s["reason"]))
    return Rules(
        placeholder_values=frozenset(fold(v) for v in ph["values"]),
        placeholder_kind_values={k: frozenset(fold(v) for v in vs) for k, vs in ph.get("kinds", {}).items()},
        placeholder_pattern="|".join(f"(?:{p})" for p in ph["patterns"]),
        dummy_addresses=frozenset(email["dummy_addresses"]),
        dummy_domain_pattern=f"(?:^|\\.)(?:{alternation(email['dummy_domains'])})$",
        local_equal_to_domain_is_dummy=bool(email.get("local_equal_to_domain_is_dummy", True)),
        email_aliases=aliases,
        email_dots=frozenset(dots),
        email_plus=frozenset(plus),
        phone_regions=tuple(data["phone"]["fallback_regions"]),
        phone_placeholder_pattern="|".join(f"(?:{p})" for p in data["phone"]["placeholder_patterns"]),
        payment_label_pattern=(
            f"^(?:{alternation(fold(x) for x in pay['labels'])})(?:[ :#\\-]|{alternation(pay['label_words'])})*"
        ),
        ip_special=tuple(specials),
    )


# ---------------------------------------------------------------------------------------------
# One value at a time: each function takes the folded value and the store's country.


def placeholder_reason(kind: str, folded: str) -> str | None:
    """Why a folded value identifies no one before any kind-specific reading (empty, n/a, 000000), or None."""
    if folded == "":
        return EMPTY
    r = load_rules()
    if folded in r.placeholder_values or folded in r.placeholder_kind_values.get(kind, ()):
        return f"placeholder '{folded}'"
    if _re(PATTERN_CANDIDATE).match(folded):
        compact = SUBS["compact"].apply(folded)
        if compact == "" or _re(r.placeholder_pattern).search(compact):
            return f"placeholder '{folded}'"
    return None


def _checked(family: str, body: str, folded: str) -> Result:
    """A key for ``body``, unless it is empty, too short or (as a whole) a placeholder."""
    if body == "":
        return None, "no digits" if family == "acct" else "no letters or digits"
    if len(body) < MIN_LENGTH.get(family, 1):
        return None, "too short to identify"
    low = body.lower()
    if _re(PATTERN_CHARS).match(low) and _re(load_rules().placeholder_pattern).search(low):
        return None, f"placeholder '{folded}'"
    return f"{family}:{body}", None


@cache
def _cn_mobile_pattern() -> str:
    import phonenumbers

    return f"^(?:{phonenumbers.PhoneMetadata.metadata_for_region('CN').mobile.national_number_pattern})$"


@dataclass(frozen=True)
class RegionPhoneRules:
    """What phonenumbers reads before a number in one region: enough to tell it cannot be valid there."""

    country_code: str
    international_prefix: str | None  # "^(?:…)"
    national_prefix: str | None  # "^(?:…)"
    transforms: bool  # a matched national prefix may rewrite the number (we then cannot tell)
    valid: str  # "^(?:…)$": a valid national number for the country code matches one of its number types


@cache
def region_phone_rules(region: str) -> RegionPhoneRules | None:
    """The region's metadata, or None when phonenumbers does not know it."""
    import phonenumbers

    md = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if md is None:
        return None
    # validity is judged for the country code: a Canadian store's "1 925…" is a valid US number
    sharing = [
        phonenumbers.PhoneMetadata.metadata_for_region(r)
        for r in phonenumbers.region_codes_for_country_code(md.country_code)
    ]
    descs = [getattr(m, t, None) for m in sharing if m is not None for t in NUMBER_TYPES]
    patterns = sorted({d.national_number_pattern for d in descs if d is not None and d.national_number_pattern})
    if not patterns:
        return None
    return RegionPhoneRules(
        country_code=str(md.country_code),
        international_prefix=f"^(?:{md.international_prefix})" if md.international_prefix else None,
        national_prefix=f"^(?:{md.national_prefix_for_parsing})" if md.national_prefix_for_parsing else None,
        transforms=bool(md.national_prefix_transform_rule),
        valid="^(?:" + "|".join(f"(?:{p})" for p in patterns) + ")$",
    )


def _maybe_local(digits: str, rr: RegionPhoneRules) -> bool:
    """Whether phonenumbers might read ``digits`` (no "+") as a valid number of the region.

    It may strip an international prefix, the region's country code and its national prefix; a valid
    result always matches one of the region's number types (fixed line, mobile, toll free …). If no
    reading can, the region says "invalid" and phonenumbers moves on to the fallback region."""
    if rr.international_prefix and _re(rr.international_prefix).match(digits):
        return True
    readings = [digits, digits[len(rr.country_code) :]] if digits.startswith(rr.country_code) else [digits]
    for r in list(readings):
        m = _re(rr.national_prefix).match(r) if rr.national_prefix else None
        if m and rr.transforms:
            return True
        if m:
            readings.append(r[m.end() :])
    return any(_re(rr.valid).match(r) for r in readings)


def _fast_phone(clean: str, country: str | None) -> str | None:
    """E.164 of a plain Chinese mobile number, exactly as phonenumbers (with the CN fallback) reads it, else None.

    ``+86`` needs no region; a store in CN (or without a known country) reads it as Chinese; a store
    elsewhere does too when its own region cannot make the digits a valid local number."""
    m = _re(CN_MOBILE_SHAPE).match(clean)
    if not m or not _re(_cn_mobile_pattern()).match(m[2]) or load_rules().phone_regions[:1] != ("CN",):
        return None
    if m[1] == "+86" or not country or country == "CN":
        return "+86" + m[2]
    import phonenumbers

    if country not in phonenumbers.SUPPORTED_REGIONS:
        return "+86" + m[2]  # phonenumbers refuses the region and reads it in the fallback
    rr = region_phone_rules(country)
    if rr is None or _maybe_local(clean, rr):
        return None
    return "+86" + m[2]


@lru_cache(maxsize=1 << 16)
def _phonenumbers_e164(text: str, country: str | None) -> Result:
    import phonenumbers

    regions = [c for c in dict.fromkeys([country, *load_rules().phone_regions]) if c]
    parsed = False
    for region in regions or [None]:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        parsed = True
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None
    return None, "invalid phone number" if parsed else "unparseable phone number"


def phone_key(folded: str, country: str | None) -> Result:
    """``phone:+8613800138000``: E.164, read in the store's country, then in the fallback regions."""
    clean = SUBS["phone_sep"].apply(folded)
    e164 = _fast_phone(clean, country)
    if e164 is None:
        # phonenumbers drops these separators itself: reading the digits alone lets spellings share the work
        e164, reason = _phonenumbers_e164(clean if _re("^\\+?[0-9]+$").match(clean) else folded, country)
        if e164 is None:
            return None, reason
    if _re(load_rules().phone_placeholder_pattern).search(e164):
        return None, f"placeholder '{folded}'"
    return f"phone:{e164}", None


def email_key(folded: str, country: str | None = None) -> Result:
    """``email:johndoe@gmail.com``: dots and ``+tags`` dropped only where the provider ignores them."""
    r = load_rules()
    m = _re(EMAIL_SHAPE).match(SUBS["mailto"].apply(SUBS["email_dots"].apply(folded)))
    if not m:
        return None, "not an e-mail address"
    local, domain = m[1], r.email_aliases.get(m[2], m[2])
    if domain in r.email_plus:
        local = SUBS["plus_tag"].apply(local)
    if domain in r.email_dots:
        local = local.replace(".", "")
    if local == "":
        return None, "not an e-mail address"
    if (
        f"{local}@{domain}" in r.dummy_addresses
        or _re(r.dummy_domain_pattern).search(domain)
        or (r.local_equal_to_domain_is_dummy and local == domain.split(".")[0])
    ):
        return None, f"placeholder '{folded}'"
    return f"email:{local}@{domain}", None


def _resident_check(body17: str) -> str:
    return ID_CHECK[sum(int(d) * w for d, w in zip(body17, ID_WEIGHTS, strict=True)) % 11]


def id_key(folded: str, country: str | None = None, kind: str = "id_number") -> Result:
    """``id:…``: upper case, letters and digits only. A Chinese resident ID (kind ``id_number``) must
    carry a valid ISO 7064 MOD 11-2 check character; a 15-digit first-generation one is widened to 18."""
    body = SUBS["not_alnum_upper"].apply(folded.upper())
    if kind == "id_number" and _re(RESIDENT_ID_18).match(body) and _resident_check(body[:17]) != body[17]:
        return None, "bad check digit"
    if kind == "id_number" and _re(RESIDENT_ID_15).match(body):
        body = body[:6] + "19" + body[6:]
        body += _resident_check(body)
    return _checked("id", body, folded)


def _iban_ok(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def bank_key(folded: str, country: str | None = None) -> Result:
    """``acct:…``: the digits of an account or card number; an IBAN keeps its letters and must pass mod 97."""
    text = folded.upper()
    compact = SUBS["bank_sep"].apply(text)
    if _re(IBAN_SHAPE).match(compact):
        return (f"acct:{compact}", None) if _iban_ok(compact) else (None, "bad check digit")
    return _checked("acct", SUBS["not_digit"].apply(text), folded)


def payment_route(folded: str) -> tuple[str, str]:
    """A payment account without its label (``支付宝``, ``alipay:``), and what it holds: email, phone or acct."""
    rest = strip_ws(_re(load_rules().payment_label_pattern).sub("", folded, count=1))
    if "@" in rest:
        return rest, "email"
    if rest.startswith("+") or _re(PAYMENT_PHONE_SHAPE).match(SUBS["phone_sep"].apply(rest)):
        return rest, "phone"
    return rest, "acct"


def account_number_key(rest: str, country: str | None = None) -> Result:
    """A payment account number: its digits, or lower-case letters and digits when it has letters (a wallet id)."""
    if _re("[a-z]").search(rest):
        return _checked("acct", SUBS["not_alnum_lower"].apply(rest), rest)
    return _checked("acct", SUBS["not_digit"].apply(rest), rest)


def payment_key(folded: str, country: str | None) -> Result:
    """A payment account: an e-mail or phone login meets those kinds; anything else is an account number."""
    rest, route = payment_route(folded)
    reason = placeholder_reason("payment_account", rest)
    if reason is not None:
        return None, reason
    return {"email": email_key, "phone": phone_key, "acct": account_number_key}[route](rest, country)


def _ip_special(number: int) -> str | None:
    return next((reason for lo, hi, reason in load_rules().ip_special if lo <= number <= hi), None)


def ip_key(folded: str, country: str | None = None) -> Result:
    """``ip:…``: a public address in ``ipaddress``'s compressed form; private, loopback and the like are unusable."""
    try:
        ip = ipaddress.ip_address(folded)
    except ValueError:
        return None, "unparseable IP address"
    v4 = ip if isinstance(ip, ipaddress.IPv4Address) else ip.ipv4_mapped
    if v4 is not None:
        reason = _ip_special(int(v4))
    else:
        checks = (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                  ("multicast", ip.is_multicast), ("private", ip.is_private), ("reserved", ip.is_reserved),
                  ("non-global", not ip.is_global))  # fmt: skip
        reason = next((f"{name} address" for name, hit in checks if hit), None)
    return (None, reason) if reason else (f"ip:{ip.compressed}", None)


def device_key(folded: str, country: str | None = None) -> Result:
    """``device:…``: lower-case letters and digits only (a UUID becomes its 32 hex digits)."""
    return _checked("device", SUBS["not_alnum_lower"].apply(folded), folded)


def _body_key(family: str, kind: str, body: str, folded: str) -> Result:
    """A key for an address or name body: none if nothing is left, or if what is left is a placeholder
    word (``Test.`` folds to ``test``; ``娜`` alone is ``na``)."""
    r = load_rules()
    if body == "":
        return None, f"no {'address' if family == 'addr' else 'name'} words"
    if body in r.placeholder_values or body in r.placeholder_kind_values.get(kind, ()):
        return None, f"placeholder '{folded}'"
    return f"{family}:{body}", None


def address_key(folded: str, country: str | None = None, kind: str = "address") -> Result:
    """``addr:<street> rd <numbers>, <places>`` (see ``address.py``)."""
    return _body_key("addr", kind, address_body(folded), folded)


def name_key(folded: str, country: str | None = None) -> Result:
    """``name:<sorted pinyin syllables>`` (see ``address.py``)."""
    return _body_key("name", "contact_name", name_body(folded), folded)


KEY_FUNCTIONS: dict[str, KindFn] = {
    "phone": phone_key,
    "email": email_key,
    "id_number": lambda f, c: id_key(f, c, "id_number"),
    "business_license": lambda f, c: id_key(f, c, "business_license"),
    "bank_account": bank_key,
    "payment_account": payment_key,
    "address": lambda f, c: address_key(f, c, "address"),
    "return_address": lambda f, c: address_key(f, c, "return_address"),
    "warehouse": lambda f, c: address_key(f, c, "warehouse"),
    "device_id": device_key,
    "ip": ip_key,
    "contact_name": name_key,
}


def normalize_one(kind: str, value: str | None, country: str | None) -> Result:
    """The key of one identifier, or None and the reason it identifies no one."""
    if kind not in KEY_FUNCTIONS:
        return None, f"unknown identifier kind '{kind}'"
    folded = "" if value is None else fold(value)
    reason = placeholder_reason(kind, folded)
    if reason is not None:
        return None, reason
    return KEY_FUNCTIONS[kind](folded, country)


_WARM_UP = (
    ("phone", "+86 138 0013 8000", "CN"), ("phone", "13512345678", "US"), ("phone", "0571-88888888", "HK"),
    ("email", "a.b+c@gmail.com", None), ("id_number", "11010519491231002X", None),
    ("bank_account", "DE89 3704 0044 0532 0130 00", None), ("payment_account", "支付宝 2088102030405060", "CN"),
    ("address", "广东省深圳市福田区人民路517号10栋1507室", "CN"), ("device_id", "54623e3f-fc1a-1f6f", None),
    ("ip", "2001:4860:4860::8888", None), ("contact_name", "王伟", None),
)  # fmt: skip


def warm_up() -> None:
    """Load what a first call would (pypinyin's dictionaries, phonenumbers' metadata, the compiled rules):
    about a second, once per process, so the first store at sign-up does not pay for it."""
    for kind, value, country in _WARM_UP:
        normalize_one(kind, value, country)


def fuzzy_key(key: str | None) -> str | None:
    """The block a key falls in for fuzzy comparison: an address's street and house number, else the key."""
    return None if key is None else address_block(key)


# ---------------------------------------------------------------------------------------------
# A whole table


def with_country(identifiers: pl.DataFrame, stores: pl.DataFrame) -> pl.DataFrame:
    """``store_identifiers`` with each store's ``country`` (null for a store not in ``stores``), order kept."""
    countries = stores.select("store_id", "country").unique("store_id", keep="first")
    return identifiers.join(countries, on="store_id", how="left", maintain_order="left")


def normalize_identifiers(identifiers: pl.DataFrame) -> pl.DataFrame:
    """Every row of ``identifiers`` (``kind``, ``value``, ``country``; other columns kept) with ``key``,
    ``fuzzy_key``, ``usable`` and ``reason`` (null when usable). Rows are never dropped or reordered.

    Each distinct (kind, value, country) is normalised once, exactly as ``normalize_one`` would."""
    on = ["kind", "value", "country"]
    missing = [c for c in on if c not in identifiers.columns]
    if missing:
        raise ValueError(
            f"normalize_identifiers: missing column(s) {', '.join(missing)}; "
            "join the stores' country first (with_country)"
        )
    frame = identifiers.drop([c for c in OUTPUT_COLUMNS if c in identifiers.columns])
    keys = frame.select(pl.col(on).cast(pl.String))
    # Distinct triples by a 64-bit hash, numbered by its dense rank (a sort: cheaper than hashing three
    # strings, and than a join, at millions of rows). A second, independent hash checks every row against
    # the triple its group was keyed from; if two triples ever share a first hash, the strings
    # themselves are joined instead.
    hashes = keys.select(_h=_triple_hash(on, 0), _h2=_triple_hash(on, 1))
    group = (hashes["_h"].rank("dense") - 1).cast(pl.UInt32).to_numpy() if keys.height else np.zeros(0, np.uint32)
    first = np.zeros(int(group.max()) + 1 if len(group) else 0, dtype=np.uint32)
    first[group] = np.arange(len(group), dtype=np.uint32)  # some row of each group
    h2 = hashes["_h2"].to_numpy()
    if np.array_equal(h2[first][group], h2):
        keyed = _key_distinct(keys[first].with_row_index("_i"))
        position = np.empty(len(first), dtype=np.uint32)
        position[keyed["_i"].to_numpy()] = np.arange(keyed.height, dtype=np.uint32)
        keyed = keyed.select("key", "reason", "_block").rechunk()  # gathering from one chunk is several times faster
        joined = keyed.gather(pl.Series(position[group])).with_columns(fuzzy_key=pl.coalesce("_block", "key"))
    else:
        joined = keys.join(
            normalize_distinct(keys.unique()), on=on, how="left", nulls_equal=True, maintain_order="left"
        )
    out = frame.with_columns(joined.select("key", "fuzzy_key", "reason"))
    return out.with_columns(usable=pl.col("key").is_not_null()).select(*frame.columns, *OUTPUT_COLUMNS)


def _triple_hash(columns: list[str], seed: int) -> pl.Expr:
    return pl.struct(columns).hash(seed=seed)


_RESULT_SCHEMA = {"_i": pl.UInt32, "key": pl.String, "reason": pl.String}


def _result(df: pl.DataFrame, key: pl.Expr, reason: pl.Expr) -> pl.DataFrame:
    return df.select("_i", key.cast(pl.String).alias("key"), reason.cast(pl.String).alias("reason"))


def _python(df: pl.DataFrame, fn: KindFn) -> pl.DataFrame:
    """``fn`` row by row over (``_f``, ``country``): the shapes the expressions leave to Python."""
    if df.height == 0:
        return pl.DataFrame(schema=_RESULT_SCHEMA)
    results = [fn(f, c) for f, c in zip(df["_f"].to_list(), df["country"].to_list(), strict=True)]
    keys, reasons = zip(*results, strict=True)
    return pl.DataFrame({"_i": df["_i"], "key": list(keys), "reason": list(reasons)}, schema=_RESULT_SCHEMA)


def _with_placeholders(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with ``_reason`` = ``placeholder_reason(kind, _f)`` (null where there is none), rows reordered."""
    r = load_rules()
    f = pl.col("_f")
    listed_anywhere = sorted(r.placeholder_values.union(*r.placeholder_kind_values.values()))
    df = df.with_columns(_maybe=f.is_in(listed_anywhere) | f.str.contains(PATTERN_CANDIDATE))
    maybe = df.filter(pl.col("_maybe"))
    listed = f.is_in(sorted(r.placeholder_values))
    for k, values in r.placeholder_kind_values.items():
        listed = listed | ((pl.col("kind") == k) & f.is_in(sorted(values)))
    maybe = maybe.with_columns(
        _listed=listed, _c=pl.when(f.str.contains(PATTERN_CANDIDATE)).then(f.str.replace_all(COMPACT, ""))
    )
    hit = (
        pl.col("_listed")
        | (pl.col("_c") == "").fill_null(False)
        | pl.col("_c").str.contains(r.placeholder_pattern).fill_null(False)
    )
    reason = pl.when(f == "").then(pl.lit(EMPTY)).when(hit).then(_quoted(f))
    return pl.concat([
        maybe.with_columns(_reason=reason).drop("_listed", "_c", "_maybe"),
        df.filter(~pl.col("_maybe")).with_columns(_reason=pl.lit(None, pl.String)).drop("_maybe"),
    ])  # fmt: skip


def _quoted(folded: pl.Expr) -> pl.Expr:
    return pl.concat_str(pl.lit("placeholder '"), folded, pl.lit("'"))


def _checked_frame(df: pl.DataFrame, family: str, body: pl.Expr) -> pl.DataFrame:
    """``_checked`` over a frame with ``_f``: the (_i, key, reason) result."""
    df = df.with_columns(_b=body)
    b = pl.col("_b")
    reason = (
        pl.when(b == "")
        .then(pl.lit("no digits" if family == "acct" else "no letters or digits"))
        .when(b.str.len_chars() < MIN_LENGTH.get(family, 1))
        .then(pl.lit("too short to identify"))
        .when(
            b.str.to_lowercase().str.contains(PATTERN_CHARS)
            & b.str.to_lowercase().str.contains(load_rules().placeholder_pattern)
        )
        .then(_quoted(pl.col("_f")))
    )
    df = df.with_columns(reason=reason)
    return _result(df, pl.when(pl.col("reason").is_null()).then(pl.lit(f"{family}:") + b), pl.col("reason"))


def _foreign_mobiles(df: pl.DataFrame) -> pl.Series:
    """``_fast_phone``'s region test over rows of one foreign region (``_clean``): may it be local there?"""
    import phonenumbers

    region = df["country"][0]
    if region not in phonenumbers.SUPPORTED_REGIONS:
        return pl.Series([False] * df.height)
    rr = region_phone_rules(region)
    if rr is None:
        return pl.Series([True] * df.height)
    c = pl.col("_clean")
    readings = [c, pl.when(c.str.starts_with(rr.country_code)).then(c.str.slice(len(rr.country_code)))]
    prefixed = pl.lit(False)
    if rr.national_prefix:
        has_prefix = [r.str.contains(rr.national_prefix).fill_null(False) for r in readings]
        prefixed = pl.any_horizontal(has_prefix) & pl.lit(rr.transforms)
        readings += [
            pl.when(h).then(r.str.replace(rr.national_prefix, "")) for r, h in zip(readings, has_prefix, strict=True)
        ]
    local = prefixed | pl.any_horizontal([r.str.contains(rr.valid).fill_null(False) for r in readings])
    if rr.international_prefix:
        local = local | c.str.contains(rr.international_prefix)
    try:
        return df.select(local.alias("local"))["local"]
    except pl.exceptions.PolarsError:  # a metadata pattern Rust's regex cannot read: leave the region to Python
        return pl.Series([True] * df.height)


def _phones(df: pl.DataFrame) -> pl.DataFrame:
    df = df.with_columns(_clean=SUBS["phone_sep"].expr(pl.col("_f")))
    shape = pl.col("_clean").str.extract_groups(CN_MOBILE_SHAPE)
    df = df.with_columns(_prefix=shape.struct.field("1"), _nsn=shape.struct.field("2"))
    mobile = pl.col("_nsn").str.contains(_cn_mobile_pattern()).fill_null(False)
    if load_rules().phone_regions[:1] != ("CN",):
        mobile = pl.lit(False)
    home = (
        (pl.col("_prefix") == "+86").fill_null(False)
        | pl.col("country").is_null()
        | pl.col("country").is_in(["", "CN"])
    )
    df = df.with_columns(_mobile=mobile, _home=home)
    foreign = df.filter(pl.col("_mobile") & ~pl.col("_home"))
    claimed = [df.filter(pl.col("_mobile") & pl.col("_home")).select("_i")]
    for (_,), part in foreign.partition_by("country", as_dict=True).items():
        claimed.append(part.filter(~_foreign_mobiles(part)).select("_i"))
    fast = pl.concat(claimed).with_columns(_fast=pl.lit(True))
    df = df.join(fast, on="_i", how="left").with_columns(
        _e164=pl.when(pl.col("_fast").fill_null(False)).then(pl.lit("+86") + pl.col("_nsn"))
    )
    done = df.filter(pl.col("_e164").is_not_null()).with_columns(
        _ph=pl.col("_e164").str.contains(load_rules().phone_placeholder_pattern)
    )
    key = pl.when(~pl.col("_ph")).then(pl.lit("phone:") + pl.col("_e164"))
    return pl.concat([
        _result(done, key, pl.when(pl.col("_ph")).then(_quoted(pl.col("_f")))),
        _python(df.filter(pl.col("_e164").is_null()), phone_key),
    ])  # fmt: skip


def _emails(df: pl.DataFrame) -> pl.DataFrame:
    r = load_rules()
    parts = SUBS["mailto"].expr(SUBS["email_dots"].expr(pl.col("_f"))).str.extract_groups(EMAIL_SHAPE)
    df = df.with_columns(_local=parts.struct.field("1"), _domain=parts.struct.field("2").replace(r.email_aliases))
    local, domain = pl.col("_local"), pl.col("_domain")
    df = df.with_columns(
        _local=pl.when(domain.is_in(sorted(r.email_plus))).then(SUBS["plus_tag"].expr(local)).otherwise(local)
    ).with_columns(
        _local=pl.when(domain.is_in(sorted(r.email_dots)))
        .then(local.str.replace_all(".", "", literal=True))
        .otherwise(local)
    )
    dummy = (
        pl.concat_str(local, pl.lit("@"), domain).is_in(sorted(r.dummy_addresses))
        | domain.str.contains(r.dummy_domain_pattern)
        | (pl.lit(r.local_equal_to_domain_is_dummy) & (local == domain.str.split(".").list.first()))
    )
    df = df.with_columns(
        reason=pl.when(local.is_null() | (local == ""))
        .then(pl.lit("not an e-mail address"))
        .when(dummy)
        .then(_quoted(pl.col("_f")))
    )
    key = pl.when(pl.col("reason").is_null()).then(pl.concat_str(pl.lit("email:"), local, pl.lit("@"), domain))
    return _result(df, key, pl.col("reason"))


def _resident_check_expr(body17: pl.Expr) -> pl.Expr:
    digits = [body17.str.slice(i, 1).cast(pl.Int64, strict=False) * w for i, w in enumerate(ID_WEIGHTS)]
    return (pl.sum_horizontal(digits) % 11).replace_strict(dict(enumerate(ID_CHECK)), return_dtype=pl.String)


def _ids(df: pl.DataFrame) -> pl.DataFrame:
    df = df.with_columns(_b=SUBS["not_alnum_upper"].expr(pl.col("_f").str.to_uppercase()))
    b, resident = pl.col("_b"), pl.col("kind") == "id_number"
    df = df.with_columns(
        _bad=resident
        & b.str.contains(RESIDENT_ID_18)
        & (_resident_check_expr(b.str.slice(0, 17)) != b.str.slice(17, 1)),
        _wide=pl.when(resident & b.str.contains(RESIDENT_ID_15)).then(
            b.str.slice(0, 6) + pl.lit("19") + b.str.slice(6)
        ),
    )
    wide = pl.col("_wide")
    checked = _checked_frame(df, "id", pl.coalesce(wide + _resident_check_expr(wide), b))
    bad = df.select("_i", "_bad")
    return checked.join(bad, on="_i", maintain_order="left").select(
        "_i",
        pl.when(~pl.col("_bad")).then(pl.col("key")).alias("key"),
        pl.when(pl.col("_bad")).then(pl.lit("bad check digit")).otherwise(pl.col("reason")).alias("reason"),
    )


def _banks(df: pl.DataFrame) -> pl.DataFrame:
    df = df.with_columns(_u=pl.col("_f").str.to_uppercase()).with_columns(
        _iban=SUBS["bank_sep"].expr(pl.col("_u")).str.contains(IBAN_SHAPE)
    )
    plain = df.filter(~pl.col("_iban"))
    return pl.concat([
        _checked_frame(plain, "acct", SUBS["not_digit"].expr(pl.col("_u"))),
        _python(df.filter(pl.col("_iban")), bank_key),
    ])  # fmt: skip


def _account_numbers(df: pl.DataFrame) -> pl.DataFrame:
    """Payment account numbers (label removed, in ``_f``): ``account_number_key`` over columns."""
    f = pl.col("_f")
    body = pl.when(f.str.contains("[a-z]")).then(SUBS["not_alnum_lower"].expr(f)).otherwise(SUBS["not_digit"].expr(f))
    return _checked_frame(df, "acct", body)


def _ips(df: pl.DataFrame) -> pl.DataFrame:
    octets = pl.col("_f").str.extract_groups(IPV4_SHAPE)
    number = sum(octets.struct.field(str(i + 1)).cast(pl.Int64) * (1 << (8 * (3 - i))) for i in range(4))
    df = df.with_columns(_n=number)
    special = pl.lit(None, dtype=pl.String)
    for lo, hi, why in reversed(load_rules().ip_special):  # the first range listed wins
        special = pl.when(pl.col("_n").is_between(lo, hi)).then(pl.lit(why)).otherwise(special)
    v4 = df.filter(pl.col("_n").is_not_null()).with_columns(reason=special)
    return pl.concat([
        _result(v4, pl.when(pl.col("reason").is_null()).then(pl.lit("ip:") + pl.col("_f")), pl.col("reason")),
        _python(df.filter(pl.col("_n").is_null()), ip_key),
    ])  # fmt: skip


def _devices(df: pl.DataFrame) -> pl.DataFrame:
    return _checked_frame(df, "device", SUBS["not_alnum_lower"].expr(pl.col("_f")))


def _addresses(df: pl.DataFrame) -> pl.DataFrame:
    """Templates in Polars (digit runs -> a marker, numbers kept aside), the folding in Python once per
    distinct template, then the numbers put back: ``address_key`` for each row."""
    df = df.with_columns(_z=Sub(*LEADING_ZEROS).expr(pl.col("_f")))
    df = df.with_columns(
        _t=pl.col("_z").str.replace_all(DIGITS, chr(MARKER)), _nums=pl.col("_z").str.extract_all(DIGITS)
    )
    many = pl.col("_nums").list.len() > BATCH_NUMBERS
    templates = df.filter(~many).select(pl.col("_t").unique())
    bodies = [address_key_template(t) for t in templates["_t"].to_list()]
    templates = templates.with_columns(_k=pl.Series(bodies, dtype=pl.String))
    rows = df.filter(~many).join(templates, on="_t", how="left")
    body = pl.col("_k")
    for k in range(rows["_nums"].list.len().max() or 0):
        body = body.str.replace_all(
            chr(MARKER + k), pl.col("_nums").list.get(k, null_on_oob=True).fill_null(""), literal=True
        )
    rows = rows.with_columns(_k=body)
    many_rows = df.filter(many)
    return pl.concat([
        _body_results(rows, "addr"),
        *(_python(part, KEY_FUNCTIONS[kind]) for (kind,), part in many_rows.partition_by("kind", as_dict=True).items()),
    ])  # fmt: skip


def _body_results(rows: pl.DataFrame, family: str) -> pl.DataFrame:
    """``_body_key`` over rows with the body in ``_k``."""
    r = load_rules()
    k = pl.col("_k")
    listed = k.is_in(sorted(r.placeholder_values))
    for kind, values in r.placeholder_kind_values.items():
        listed = listed | ((pl.col("kind") == kind) & k.is_in(sorted(values)))
    rows = rows.with_columns(_listed=listed)
    words = "address" if family == "addr" else "name"
    reason = pl.when(k == "").then(pl.lit(f"no {words} words")).when(pl.col("_listed")).then(_quoted(pl.col("_f")))
    return _result(rows, pl.when((k != "") & ~pl.col("_listed")).then(pl.lit(f"{family}:") + k), reason)


def _names(df: pl.DataFrame) -> pl.DataFrame:
    names = df.select(pl.col("_f").unique())
    names = names.with_columns(_k=pl.Series([name_body(f) for f in names["_f"].to_list()], dtype=pl.String))
    return _body_results(df.join(names, on="_f", how="left"), "name")


_BATCH: dict[str, Callable[[pl.DataFrame], pl.DataFrame]] = {
    "phone": _phones, "email": _emails, "id": _ids, "bank": _banks, "account": _account_numbers,
    "addr": _addresses, "device": _devices, "ip": _ips, "name": _names,
}  # fmt: skip
_GROUPS = ("phone", "email", "id", "bank", "payment", "addr", "device", "ip", "name")
_GROUP = {
    "phone": "phone", "email": "email", "id_number": "id", "business_license": "id", "bank_account": "bank",
    "payment_account": "payment", "address": "addr", "return_address": "addr", "warehouse": "addr",
    "device_id": "device", "ip": "ip", "contact_name": "name",
}  # fmt: skip


def normalize_distinct(distinct: pl.DataFrame) -> pl.DataFrame:
    """Distinct ``kind``, ``value``, ``country`` rows with ``key``, ``fuzzy_key`` and ``reason``, as
    ``normalize_one`` and ``fuzzy_key`` give, in the same order."""
    triples = distinct.select(pl.col("kind", "value", "country").cast(pl.String))
    keyed = _key_distinct(triples.with_row_index("_i")).sort("_i")
    return triples.with_columns(keyed.select("key", fuzzy_key=pl.coalesce("_block", "key"), reason="reason"))


def _key_distinct(d: pl.DataFrame) -> pl.DataFrame:
    """``_i``, ``key``, ``reason`` and ``_block`` (``fuzzy_key`` where it is not the key) for each row of
    ``_i``, ``kind``, ``value``, ``country``, in any order."""
    known = pl.col("kind").is_in(list(FAMILY))
    unknown = pl.concat_str(pl.lit("unknown identifier kind '"), pl.col("kind").fill_null("None"), pl.lit("'"))
    parts = [
        _result(d.filter(~known | pl.col("kind").is_null()), pl.lit(None), unknown),
        _result(d.filter(known & pl.col("value").is_null()), pl.lit(None), pl.lit(EMPTY)),
    ]
    # kind and country as categories: the frame is filtered and split many times, and they copy cheaply
    small = [pl.col("kind").cast(pl.Categorical), pl.col("country").cast(pl.Categorical)]
    pending = d.filter(known & pl.col("value").is_not_null()).with_columns(small)

    def prepare(part: pl.DataFrame) -> pl.DataFrame:
        return _with_placeholders(fold_frame(part, "value", "_f").drop("value"))

    half = pending.height // 2
    with ThreadPoolExecutor(max_workers=2) as pool:  # row-wise work: two halves, two cores
        pending = pl.concat(list(pool.map(prepare, [pending.slice(0, half), pending.slice(half)])))
    parts.append(_result(pending.filter(pl.col("_reason").is_not_null()), pl.lit(None), pl.col("_reason")))
    group_of_kind = {k: _GROUPS.index(g) for k, g in _GROUP.items()}  # small integers: cheap to partition on
    pending = pending.filter(pl.col("_reason").is_null()).select(
        "_i", "kind", "_f", "country", _group=pl.col("kind").replace_strict(group_of_kind, return_dtype=pl.UInt8)
    )
    groups = {
        _GROUPS[g]: frame for (g,), frame in pending.partition_by("_group", as_dict=True, include_key=False).items()
    }
    pay = groups.pop("payment", None)
    if pay is not None:  # routed by what it holds once its label is gone ("支付宝 2088…", "alipay: a@b.com")
        pay = pay.with_columns(_f=strip_ws_expr(pl.col("_f").str.replace(load_rules().payment_label_pattern, "")))
        pay = _with_placeholders(pay)
        parts.append(_result(pay.filter(pl.col("_reason").is_not_null()), pl.lit(None), pl.col("_reason")))
        f = pl.col("_f")
        phone = f.str.starts_with("+") | SUBS["phone_sep"].expr(f).str.contains(PAYMENT_PHONE_SHAPE)
        route = pl.when(f.str.contains("@", literal=True)).then(pl.lit("email")).when(phone).then(pl.lit("phone"))
        pay = pay.filter(pl.col("_reason").is_null()).with_columns(_group=route.otherwise(pl.lit("account")))
        for (name,), frame in pay.partition_by("_group", as_dict=True, include_key=False).items():
            frame = frame.select("_i", "kind", "_f", "country")
            groups[name] = pl.concat([groups[name], frame]) if name in groups else frame
    # ``_block``: an address key's block where it differs from the key (null elsewhere: cheap to carry)
    parts = [p.with_columns(_block=pl.lit(None, pl.String)) for p in parts]

    def run(item: tuple[str, pl.DataFrame]) -> pl.DataFrame:
        name, frame = item
        block = pl.col("key").str.extract(BLOCK, 1) if name == "addr" else pl.lit(None, pl.String)
        return _BATCH[name](frame).with_columns(_block=block)

    # The groups are independent: two threads overlap one group's Python (phonenumbers, address
    # templates) with another's Polars work, which runs without the GIL. Largest groups first.
    ordered = sorted(groups.items(), key=lambda item: -item[1].height)
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts += list(pool.map(run, ordered))
    return pl.concat(parts)
