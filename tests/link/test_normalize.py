"""Identifier normalisation: examples a user would notice, the batch path equal to the one-value path,
and properties (idempotent keys, one number in many spellings meets on one key)."""

from __future__ import annotations

import ipaddress
import random

import numpy as np
import phonenumbers
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from counterwatch.contract.schema import IDENTIFIER_KINDS
from counterwatch.link.normalize import (
    SUBS,
    _fast_phone,
    _ip_special,
    _phonenumbers_e164,
    fuzzy_key,
    normalize_identifiers,
    normalize_one,
    with_country,
)
from counterwatch.link.text import fold
from counterwatch.synth.identifiers import RENDERERS

COUNTRIES = ["CN", "HK", "US", "CA", "DE", "JP", "IT", "GB", None, "XX"]


def key(kind: str, value: str | None, country: str | None = "CN") -> str | None:
    return normalize_one(kind, value, country)[0]


def reason(kind: str, value: str | None, country: str | None = "CN") -> str | None:
    return normalize_one(kind, value, country)[1]


def batch(rows: list[tuple[str | None, str | None, str | None]]) -> pl.DataFrame:
    df = pl.DataFrame(rows, schema={"kind": pl.String, "value": pl.String, "country": pl.String}, orient="row")
    return normalize_identifiers(df.with_row_index("row"))


def assert_batch_equals_one(rows: list[tuple[str | None, str | None, str | None]]) -> None:
    out = batch(rows)
    assert out["row"].to_list() == list(range(len(rows)))  # never dropped, never reordered
    for (kind, value, country), k, fk, usable, why in zip(
        rows, out["key"], out["fuzzy_key"], out["usable"], out["reason"], strict=True
    ):
        one = normalize_one(kind, value, country)
        assert (k, why) == one, (kind, value, country)
        assert fk == fuzzy_key(one[0])
        assert usable == (one[0] is not None)
        assert (one[0] is None) != (one[1] is None)


def synth_values(kind: str, n: int, seed: int) -> list[str]:
    """Values as the generator's sellers type them (tests may use synth; the normaliser may not)."""
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 2**40, n).astype(np.uint64)
    return RENDERERS[kind](keys, rng.random(n) < 0.5, rng).to_list()


# ---------------------------------------------------------------------------------------------
# Examples


@pytest.mark.parametrize(
    "value", ["+86 138 0013 8000", "13800138000", "0086-138-0013-8000", "(+86) 138-0013-8000", "8613800138000"]
)
def test_chinese_mobile_spellings_meet(value):
    assert key("phone", value) == "phone:+8613800138000"


def test_phone_country_decides_ambiguous_numbers():
    # a Hong Kong store's bare mainland mobile is not valid in HK: read in the fallback region (CN)
    assert key("phone", "13800138000", "HK") == "phone:+8613800138000"
    # in the US the same shape can be a valid local number with its trunk 1: the store's country wins
    assert key("phone", "13512345678", "US") == "phone:+13512345678"
    assert key("phone", "+1 650 253 0000", "CN") == "phone:+16502530000"
    assert key("phone", "0571-8888 8888", "CN") == "phone:+8657188888888"


@pytest.mark.parametrize(
    ("value", "why"),
    [("95338", "invalid phone number"), ("call me", "unparseable phone number"),
     ("13800000000", "placeholder '13800000000'"), ("000000", "placeholder '000000'"),
     ("00000000000", "placeholder '00000000000'"), ("n/a", "placeholder 'n/a'")],
)  # fmt: skip
def test_unusable_phones(value, why):
    assert normalize_one("phone", value, "CN") == (None, why)


def test_email_rules_per_provider():
    assert key("email", "John.Doe+shop@Gmail.com") == key("email", "johndoe@gmail.com") == "email:johndoe@gmail.com"
    assert key("email", "john.doe@googlemail.com") == "email:johndoe@gmail.com"
    # providers that do not ignore dots or tags keep them: they may be other people's addresses
    assert key("email", "John.Doe@QQ.com") == "email:john.doe@qq.com"
    assert key("email", "john+x@163.com") == "email:john+x@163.com"
    # outlook.com delivers +tags but treats dots as part of the name
    assert key("email", "john.doe+shop@outlook.com") == "email:john.doe@outlook.com"
    assert key("email", "JOHN＠QQ。COM") == "email:john@qq.com"


@pytest.mark.parametrize(
    "value", ["test@test.com", "a@a.com", "none@none.com", "x@example.com", "seller@mail.example.com", "abc@abc.net"]
)
def test_dummy_emails_are_placeholders(value):
    assert reason("email", value) == f"placeholder '{value}'"


def test_not_an_email():
    assert reason("email", "john at qq dot com") == "not an e-mail address"
    assert reason("email", "+tag@gmail.com") == "not an e-mail address"


def test_resident_id_check_character():
    expected = "id:11010519491231002X"
    for spelling in ["11010519491231002X", "11010519491231002x", "110105 19491231 002X", "110105-19491231-002X"]:
        assert key("id_number", spelling) == expected
    assert normalize_one("id_number", "110105194912310021", "CN") == (None, "bad check digit")
    # a first-generation 15-digit number is widened to the 18-digit form it became
    assert key("id_number", "110105491231002") == expected
    # business licences (unified social credit codes) are not resident IDs: no MOD 11-2 check
    assert key("business_license", "91 350302 a7q4n6yl4") == "id:91350302A7Q4N6YL4"


def test_accounts_to_digits():
    assert key("bank_account", "6222 0212 3456 7890 123") == "acct:6222021234567890123"
    assert key("bank_account", "ICBC 6222-0212-3456-7890-123") == "acct:6222021234567890123"
    assert key("bank_account", "中国工商银行 6222021234567890123") == "acct:6222021234567890123"
    assert key("bank_account", "DE89 3704 0044 0532 0130 00") == "acct:DE89370400440532013000"
    assert normalize_one("bank_account", "DE89 3704 0044 0532 0130 01", None) == (None, "bad check digit")
    assert normalize_one("bank_account", "123", None) == (None, "too short to identify")


def test_payment_accounts_meet_what_they_hold():
    alipay = "acct:2088102030405060"
    assert key("payment_account", "支付宝 2088102030405060") == alipay
    assert key("payment_account", "alipay:2088 1020 3040 5060") == alipay
    assert key("payment_account", "支付宝账号：2088102030405060") == alipay
    assert key("payment_account", "2088102030405060") == alipay
    # a login that is a phone number or an e-mail address meets those identifiers
    assert key("payment_account", "13800138000") == key("phone", "+86 138 0013 8000")
    assert key("payment_account", "alipay: John.Doe@gmail.com") == key("email", "johndoe@gmail.com")
    assert normalize_one("payment_account", "alipay: n/a", "CN") == (None, "placeholder 'n/a'")
    assert key("payment_account", "wxid_Abc123xyz") == "acct:wxidabc123xyz"


def test_bank_and_payment_accounts_share_a_family():
    assert key("bank_account", "6222021234567890123") == key("payment_account", "6222 0212 3456 7890 123")


ADDRESS = "addr:renmin rd no517 bldg10 rm1507, futian shenzhen"


@pytest.mark.parametrize(
    "value",
    [
        "广东省深圳市福田区人民路517号10栋1507室",
        "深圳市福田区人民路517号10-1507",
        "Room 1507, Building 10, No. 517 Renmin Road, Futian District, Shenzhen, Guangdong",
        "Rm 1507 Bldg 10 No.517 Renmin Rd., Futian Dist., Shenzhen",
        "RM. 1507, BLDG. 10, NO. 517, RENMIN RD, FUTIAN, SHENZHEN, GUANGDONG PROVINCE, CHINA",
        "广东省深圳市福田区人民路５１７号１０栋１５０７室",  # full-width digits
    ],
)
def test_address_spellings_meet(value):
    assert key("address", value) == ADDRESS
    assert fuzzy_key(key("address", value)) == "addr:renmin rd no517"


def test_address_without_room_meets_in_its_block():
    short = key("warehouse", "517 renmin road futian shenzhen guangdong china")
    assert short == "addr:renmin rd no517, futian shenzhen"
    assert fuzzy_key(short) == fuzzy_key(ADDRESS)
    # the three address kinds share one family
    assert key("return_address", "广东省深圳市福田区人民路517号10栋1507室") == key("warehouse", ADDRESS[5:])


def test_address_place_names():
    # suffixes end names of two characters or more: 市南区 is Shinan district, 厚街镇 Houjie town
    assert key("address", "青岛市市南区文一西路5号") == "addr:wenyixi rd no5, qingdao shinan"
    assert key("address", "Wenyi West Rd 5, Shinan District, Qingdao") == "addr:wenyixi rd no5, qingdao shinan"
    assert key("address", "广东省东莞市厚街镇人民路1号") == "addr:renmin rd no1, dongguan houjie"
    # polyphonic place names read as places (朝阳区 is Chaoyang)
    assert key("address", "北京市朝阳区建设路471号4栋501室") == key(
        "address", "Room 501, Building 4, No. 471 Jianshe Road, Chaoyang District, Beijing"
    )
    assert key("address", "Room 201, Bldg 20, No. 1120 Gongye Road, Industrial Park, Suzhou") == key(
        "address", "江苏省苏州市工业园区工业大道1120号20栋201室"
    )


def test_unusable_addresses():
    assert reason("return_address", "同上") == "placeholder '同上'"
    assert reason("address", "中国") == "no address words"
    assert reason("address", "  ") == "empty"


def test_device_ids():
    assert key("device_id", "54623E3F-FC1A-1F6F-C1A5-A9364FB2A9E5") == "device:54623e3ffc1a1f6fc1a5a9364fb2a9e5"
    assert key("device_id", "{54623e3f-fc1a-1f6f-c1a5-a9364fb2a9e5}") == "device:54623e3ffc1a1f6fc1a5a9364fb2a9e5"
    assert reason("device_id", "00000000-0000-0000-0000-000000000000") is not None
    assert reason("device_id", "unknown") == "placeholder 'unknown'"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("101.56.96.76", (("ip:101.56.96.76"), None)), ("192.168.1.20", (None, "private address")),
     ("10.1.2.3", (None, "private address")), ("127.0.0.1", (None, "loopback address")),
     ("100.64.1.1", (None, "carrier-grade NAT address")), ("169.254.3.4", (None, "link-local address")),
     ("2001:4860:4860::8888", ("ip:2001:4860:4860::8888", None)), ("fe80::1", (None, "link-local address")),
     ("1.2.3", (None, "unparseable IP address")), ("01.2.3.4", (None, "unparseable IP address"))],
)  # fmt: skip
def test_ips(value, expected):
    assert normalize_one("ip", value, None) == expected


def test_unspecified_ip_is_unusable():
    assert key("ip", "0.0.0.0") is None and key("ip", "::") is None


@pytest.mark.parametrize("value", ["王伟", "Wang Wei", "WEI WANG", "wangwei", "wang  wei"])
def test_contact_names_meet_across_scripts_and_orders(value):
    assert key("contact_name", value) == "name:wang wei"


def test_contact_name_pinyin_split():
    # no syllable inside a word opens with a vowel: lina is li na, not lin a
    assert key("contact_name", "lina") == key("contact_name", "李娜") == "name:li na"
    assert key("contact_name", "Zhiqiang Li") == key("contact_name", "李志强")
    assert key("contact_name", "John Smith") == key("contact_name", "smith, john") == "name:john smith"
    assert reason("contact_name", "店主") == "placeholder '店主'"
    # what folds down to a placeholder word is one too (a lone 娜 is "na")
    assert reason("contact_name", "娜") == "placeholder '娜'"
    assert reason("warehouse", "(test)") == "placeholder '(test)'"


@pytest.mark.parametrize(
    "value", ["", "   ", "\u200b", "n/a", "N/A", "none", "NULL", "-", "无", "同上", "unknown", "test", "000000", "xxx"]
)
@pytest.mark.parametrize("kind", IDENTIFIER_KINDS)
def test_placeholders_are_unusable_with_a_reason(kind, value):
    k, why = normalize_one(kind, value, "CN")
    assert k is None and why is not None
    assert why == "empty" or why.startswith("placeholder")


def test_unknown_kind_and_null_value():
    assert normalize_one("wechat", "abc", "CN") == (None, "unknown identifier kind 'wechat'")
    assert normalize_one("phone", None, "CN") == (None, "empty")


# ---------------------------------------------------------------------------------------------
# The batch path


def test_batch_keeps_every_row_and_column():
    stores = pl.DataFrame({"store_id": ["S1", "S2"], "country": ["CN", "HK"]})
    ids = pl.DataFrame(
        {
            "store_id": ["S2", "S1", "S1", "S3", "S1", "S1"],
            "kind": ["phone", "phone", "email", "phone", "address", "phone"],
            "value": ["13800138000", "13800138000", "n/a", "13800138000", None, "13800138000"],
            "note": ["a", "b", "c", "d", "e", "f"],
        }
    )
    out = normalize_identifiers(with_country(ids, stores))
    assert out.columns == ["store_id", "kind", "value", "note", "country", "key", "fuzzy_key", "usable", "reason"]
    assert out["note"].to_list() == ["a", "b", "c", "d", "e", "f"]
    assert out["country"].to_list() == ["HK", "CN", "CN", None, "CN", "CN"]
    mobile = "phone:+8613800138000"
    assert out["key"].to_list() == [mobile, mobile, None, mobile, None, mobile]
    assert out["reason"].to_list() == [None, None, "placeholder 'n/a'", None, "empty", None]
    assert out["usable"].to_list() == [True, True, False, True, False, True]


def test_batch_survives_hash_collisions(monkeypatch):
    import counterwatch.link.normalize as module

    # every triple shares its first hash
    monkeypatch.setattr(
        module, "_triple_hash", lambda columns, seed: pl.struct(columns).hash(seed) if seed else pl.lit(7, pl.UInt64)
    )
    assert_batch_equals_one([("phone", "13800138000", "CN"), ("email", "A@qq.com", None), ("phone", "n/a", "HK")])


def test_batch_needs_country():
    with pytest.raises(ValueError, match="country"):
        normalize_identifiers(pl.DataFrame({"kind": ["phone"], "value": ["1"]}))


def test_batch_on_an_empty_table():
    out = batch([])
    assert out.height == 0 and "key" in out.columns


def test_batch_equals_one_on_generated_spellings():
    rnd = random.Random(5)
    rows = [
        (kind, v, rnd.choice(COUNTRIES)) for i, kind in enumerate(IDENTIFIER_KINDS) for v in synth_values(kind, 300, i)
    ]
    rows += [
        (kind, v, c) for kind in IDENTIFIER_KINDS for v in ("", "n/a", None, "000000", "同上") for c in ("CN", None)
    ]
    rows += [("phone", "0086 13800138000", c) for c in COUNTRIES] + [("phone", "13512345678", c) for c in COUNTRIES]
    rows += [("ip", v, None) for v in ("::ffff:192.168.0.1", "2001:db8::1", "fe80::1%eth0", "1.2.3.4:80")]
    rows += [("bank_account", "GB82 WEST 1234 5698 7654 32", None), ("wechat", "x", None), (None, "x", None)]
    assert_batch_equals_one(rows)


ALPHABET = list("0123456789 abcxyzABCXYZ-+.()@/:#_,'号栋室路区市省人民广东深圳娜王伟０１２\u3000é\u200b\t")
values = st.one_of(
    st.text(alphabet=ALPHABET, max_size=30),
    st.sampled_from([v for kind in IDENTIFIER_KINDS for v in synth_values(kind, 20, 99)]),
    st.sampled_from(
        ["n/a", "", "无", "test@test.com", "0.0.0.0", "00000000-0000-0000-0000-000000000000", "支付宝 n/a"]
    ),
    st.none(),
)
rows_strategy = st.lists(
    st.tuples(st.sampled_from(IDENTIFIER_KINDS), values, st.sampled_from(COUNTRIES)), min_size=1, max_size=40
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows_strategy)
def test_batch_equals_one_property(rows):
    assert_batch_equals_one(rows)


# ---------------------------------------------------------------------------------------------
# Properties


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(IDENTIFIER_KINDS), st.integers(0, 2**32), st.sampled_from(COUNTRIES))
def test_keys_are_idempotent(kind, seed, country):
    """A key's display form (the key without its family) normalises to the same key."""
    for value in synth_values(kind, 5, seed):
        k = key(kind, value, country)
        if k is not None:
            assert key(kind, k.split(":", 1)[1], country) == k, value


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=30), st.sampled_from(IDENTIFIER_KINDS), st.sampled_from(COUNTRIES))
def test_keys_of_any_text_are_idempotent_or_unusable(text, kind, country):
    k = key(kind, text, country)
    if k is not None and kind not in ("address", "return_address", "warehouse"):
        assert key(kind, k.split(":", 1)[1], country) == k


PHONE_FORMATS = ["{a}{b}{c}", "+86 {a} {b} {c}", "{a}-{b}-{c}", "0086{a}{b}{c}", "+86{a}{b}{c}", "{a} {b} {c}",
                 "(+86) {a}-{b}-{c}", "+86-{a}-{b}-{c}", "０{a}{b}{c}".replace("０", ""), "86 {a} {b} {c}"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([130, 131, 135, 138, 139, 150, 158, 166, 177, 186, 188, 199]), st.integers(0, 99_999_999))
def test_one_mobile_in_many_formats_meets(prefix, rest):
    digits = f"{prefix}{rest:08d}"
    a, b, c = digits[:3], digits[3:7], digits[7:]
    keys = {key("phone", f.format(a=a, b=b, c=c), "CN") for f in PHONE_FORMATS}
    if f"{rest:08d}".endswith("0" * 8):
        assert keys == {None}
    else:
        assert keys == {f"phone:+86{digits}"}
        assert key("phone", f"+86 {a} {b} {c}", "DE") == f"phone:+86{digits}"


@settings(max_examples=400, deadline=None)
@given(
    st.from_regex(r"\A1[0-9]{10}\Z", fullmatch=True),
    st.sampled_from(["{}", "+86 {}", "0086{}", "86{}", "00{}", "+{}"]),
    st.sampled_from([*COUNTRIES, "SG", "KR", "AU", "TW", "MO", "IN", "BR"]),
)
def test_fast_phone_path_says_what_phonenumbers_says(digits, fmt, country):
    """The shortcut for plain Chinese mobiles is an optimisation, never a different answer."""
    text = fold(fmt.format(digits))
    fast = _fast_phone(SUBS["phone_sep"].apply(text), country)
    if fast is not None:
        assert fast == _phonenumbers_e164(text, country)[0]
        assert phonenumbers.is_valid_number(phonenumbers.parse(fast))


def test_ip_ranges_agree_with_ipaddress():
    """The IPv4 table gives a reason exactly where ipaddress says "not global" (or multicast)."""
    rnd = random.Random(3)
    boundaries = []
    for net in ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
                "192.0.0.0/29", "192.0.0.170/31", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
                "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"]:  # fmt: skip
        n = ipaddress.ip_network(net)
        boundaries += [int(n.network_address) - 1, int(n.network_address), int(n.broadcast_address) + 1]
        boundaries += [int(n.broadcast_address)]
    samples = boundaries + [rnd.randrange(2**32) for _ in range(20000)]
    for number in samples:
        if not 0 <= number < 2**32:
            continue
        ip = ipaddress.IPv4Address(number)
        assert (_ip_special(number) is not None) == (not ip.is_global or ip.is_multicast), str(ip)


# ---------------------------------------------------------------------------------------------
# Quality on generated spellings: the share of entities whose spellings meet on one key


def meet_shares(kind: str, entities: int = 400, spellings: int = 8, seed: int = 11) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 2**40, entities).astype(np.uint64)
    cf = rng.random(entities) < 0.5
    values = pl.concat([RENDERERS[kind](keys, cf, rng) for _ in range(spellings)])
    df = pl.DataFrame({"entity": np.tile(np.arange(entities), spellings), "kind": kind, "value": values})
    out = normalize_identifiers(df.with_columns(country=pl.lit("CN")))
    per = out.group_by("entity").agg(
        one_key=(pl.col("key").n_unique() == 1) & pl.col("usable").all(), one_block=pl.col("fuzzy_key").n_unique() == 1
    )
    return per["one_key"].mean(), per["one_block"].mean()


@pytest.mark.parametrize(
    ("kind", "min_key", "min_block"),
    [("phone", 1.0, 1.0), ("id_number", 1.0, 1.0), ("business_license", 1.0, 1.0), ("bank_account", 1.0, 1.0),
     ("payment_account", 1.0, 1.0), ("device_id", 1.0, 1.0), ("ip", 1.0, 1.0), ("contact_name", 1.0, 1.0),
     # the generator spells outlook.com addresses with and without dots; outlook.com keeps dots
     ("email", 0.85, 0.85),
     # two of six address spellings leave out building and room: they meet the rest in the block only
     ("address", 0.1, 1.0), ("return_address", 0.1, 1.0), ("warehouse", 0.1, 1.0)],
)  # fmt: skip
def test_spellings_of_one_entity_meet(kind, min_key, min_block):
    one_key, one_block = meet_shares(kind)
    assert one_key >= min_key and one_block >= min_block, (one_key, one_block)
