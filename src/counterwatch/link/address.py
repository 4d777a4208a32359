"""Addresses and contact names folded to keys that meet across scripts, orders and abbreviations.

**Addresses** (``address``, ``return_address``, ``warehouse``; one key family ``addr:``): Latin
diacritics and apostrophes go (``Bao'an`` -> ``baoan``); numbered units are read in either language
(``517号`` / ``No. 517`` -> ``no517``; ``10栋`` / ``Bldg 10`` -> ``bldg10``; ``1507室`` / ``Rm 1507`` ->
``rm1507``; ``5-401`` after a house number is building 5, room 401); Latin words are canonicalised
(``Rd``/``Road``/``Street``/``Lu``/``路`` all mark a street, ``District``/``Dist.``/``City``/``区``/``市``
a place); Han runs are split at their place suffixes and spelt in pinyin (``广东省深圳市福田区人民路``
-> ``guangdong _adm_ shenzhen _adm_ futian _adm_ renmin _rd_``). The key is
``addr:<street> rd <house no> <building> <unit> <floor> <room>, <place words, sorted>`` without
countries and provinces (an address names its province or leaves it out; its city says more)::

    广东省深圳市福田区人民路517号10栋1507室
    Room 1507, Building 10, No. 517 Renmin Road, Futian District, Shenzhen, Guangdong
    -> addr:renmin rd no517 bldg10 rm1507, futian shenzhen

``address_block`` gives the coarser ``addr:<street> rd <house no>``: spellings that leave the room
out meet there, and a later step compares keys within a block (rapidfuzz).

Speed: the folding runs on an address's *template* (its digit runs replaced by markers, leading
zeros dropped), and the numbers are put back into the result. A workspace's million addresses
have a few thousand templates, so the text rules are plain Python on distinct templates, and one
store at sign-up goes through the very same functions.

**Names** (``contact_name``, family ``name:``): Han spelt in pinyin, Latin words made only of pinyin
syllables split into them, and the syllables sorted, so ``王伟``, ``Wang Wei``, ``WEI WANG`` and
``wangwei`` meet on ``name:wang wei``. Names are weak evidence: homophones (王伟, 汪伟) meet too.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

from counterwatch.link.text import HAN, SEPARATORS, rules, syllables

ROAD = "_rd_"
PLACE = "_adm_"
UNIT_ORDER = ("no", "bldg", "unit", "fl", "rm")
#: Digit runs become markers from the Private Use Area: marker k stands for the k-th number.
MARKER = 0xE000
MAX_NUMBERS = 256
DIGITS = "[0-9]+"
#: Leading zeros of every number go (``No. 007`` is ``no7``); a number of zeros stays "0".
LEADING_ZEROS = ("(^|[^0-9])0+([0-9])", "${1}${2}")
NUM = "[\ue000-\ue0ff]"

_LEADING_ZEROS_RE = re.compile(LEADING_ZEROS[0])
_DIGITS_RE = re.compile(DIGITS)
_NUM_RE = re.compile(NUM)
_HAN_RUN_RE = re.compile(f"{HAN}+")
_SEPARATORS_RE = re.compile(SEPARATORS)

#: Units written after their number in Chinese, before it in Latin; all end as one word (``no517``).
_CN_UNITS = {"号楼": "bldg", "栋": "bldg", "幢": "bldg", "座": "bldg", "单元": "unit", "号房": "rm", "室": "rm",
             "房": "rm", "楼": "fl", "层": "fl", "号": "no"}  # fmt: skip
_LATIN_UNITS = {"room": "rm", "rm": "rm", "flat": "rm", "apt": "rm", "apartment": "rm", "suite": "rm", "ste": "rm",
                "building": "bldg", "bldg": "bldg", "blk": "bldg", "block": "bldg", "tower": "bldg", "unit": "unit",
                "floor": "fl", "fl": "fl", "no": "no", "number": "no", "nr": "no", "#": "no"}  # fmt: skip
_UNIT_SUBS = (
    (re.compile(f"({NUM}) ?({'|'.join(sorted(_CN_UNITS, key=len, reverse=True))})"),
     lambda m: f" {_CN_UNITS[m[2]]}{m[1]} "),
    (re.compile("(?:^| )([a-z]) ?(栋|座|幢)"), lambda m: f" bldg{m[1]} "),
    (re.compile(rf"(?<![a-z])({'|'.join(sorted(_LATIN_UNITS, key=len, reverse=True))})\.? ?#? ?({NUM})"),
     lambda m: f" {_LATIN_UNITS[m[1]]}{m[2]} "),
    (re.compile(r"\b(building|bldg|blk|block|tower)\.? ?([a-z])\b"), lambda m: f" bldg{m[2]} "),
    (re.compile(f"({NUM})(?:st|nd|rd|th)? ?(?:floor|fl|/ ?f)\\b"), lambda m: f" fl{m[1]} "),
    # "1035号5-401": building 5, room 401; "5-2-401": building, unit, room
    (re.compile(f"no({NUM}) +({NUM})-({NUM})-({NUM})"), lambda m: f" no{m[1]} bldg{m[2]} unit{m[3]} rm{m[4]} "),
    (re.compile(f"no({NUM}) +({NUM})-({NUM})"), lambda m: f" no{m[1]} bldg{m[2]} rm{m[3]} "),
)  # fmt: skip
#: A street: the words right before a street marker, with a bare house number before them ("517 Renmin
#: Road") or after ("Renmin Road 517").
_STREET_RE = re.compile(f" (?:({NUM}) )?((?:[a-z]+ )*[a-z]+) {ROAD} (?:({NUM}) )?")
_UNIT_RES = {u: re.compile(f" {u}({NUM}|[a-z]) " if u == "bldg" else f" {u}({NUM}) ") for u in UNIT_ORDER}
_UNIT_WORD_RE = re.compile(f"^(?:(?:no|unit|fl|rm){NUM}|bldg(?:{NUM}|[a-z]))$")
BLOCK = "^(addr:[a-z]+ rd no[0-9]+)"
_BLOCK_RE = re.compile(BLOCK)
#: A key body needs a word: a Latin letter (pinyin included; "x" alone is a placeholder) or another script.
_WORDY_RE = re.compile("[a-wyz]|[^\x00-\x7f\ue000-\ue0ff]")
_ADJACENT_NUMBERS_RE = re.compile(f"({NUM})(?={NUM})")


@dataclass(frozen=True)
class AddressRules:
    suffixes: dict[str, str]  # Han suffix -> marker, longest first
    words: dict[str, str]  # Latin word -> canonical word ("" drops it)
    ignore: frozenset[str]  # countries and provinces
    glossary: dict[str, str]  # " phrase " -> " pinyin "
    glossary_re: re.Pattern[str]
    fold_table: dict[int, str]  # Latin letters with diacritics -> base letters; apostrophes -> ""
    pinyin: dict[str, str]  # place names pypinyin reads otherwise, longest first


@cache
def address_rules() -> AddressRules:
    """The address part of ``data/identifiers.toml``, compiled."""
    data = rules()["address"]
    suffixes = {k: data["suffixes"][k] for k in sorted(data["suffixes"], key=len, reverse=True)}
    phrases = sorted(data["glossary"], key=len, reverse=True)
    glossary = {f" {k} ": f" {data['glossary'][k]} " for k in phrases}
    glossary_re = re.compile("|".join(re.escape(k) for k in glossary))
    table: dict[int, str] = {ord(c): "" for c in "'\u2018\u2019\u02bc`\u00b4"}
    for cp in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        base = "".join(x for x in unicodedata.normalize("NFKD", chr(cp)) if not unicodedata.combining(x))
        if base != chr(cp) and base.isascii() and base.isalpha():
            table[cp] = base.lower()
    words, ignore = dict(data["words"]), frozenset(data["ignore"]["words"])
    pinyin = {k: data["pinyin"][k] for k in sorted(data.get("pinyin", {}), key=len, reverse=True)}
    return AddressRules(suffixes, words, ignore, glossary, glossary_re, table, pinyin)


def _place_pinyin(name: str) -> str:
    """A Han place name in pinyin, known readings (``address.pinyin``) first."""
    r = address_rules()
    out, start, i = [], 0, 0
    while i < len(name):
        known = next((k for k in r.pinyin if name.startswith(k, i)), None)
        if known is None:
            i += 1
            continue
        out += ["".join(syllables(name[start:i])) if i > start else "", r.pinyin[known]]
        i = start = i + len(known)
    out.append("".join(syllables(name[start:])) if start < len(name) else "")
    return "".join(out)


@lru_cache(maxsize=1 << 16)
def han_address_words(run: str) -> str:
    """A run of Han characters as pinyin place words and markers.

    ``广东省深圳市`` -> ``guangdong _adm_ shenzhen _adm_``. A suffix ends a name of two characters or
    more (市南区 is 市南 + 区, 厚街镇 is 厚街 + 镇); each name is spelt on its own (phrase readings kept).
    """
    r = address_rules()
    out: list[str] = []
    start = i = 0
    while i < len(run):
        if i - start >= 2:
            suffix = next((s for s in r.suffixes if run.startswith(s, i)), None)
            if suffix is not None:
                out += [_place_pinyin(run[start:i]), r.suffixes[suffix]]
                i = start = i + len(suffix)
                continue
        i += 1
    if start < len(run):
        out.append(_place_pinyin(run[start:]))
    return " ".join(w for w in (r.words.get(x, x) for x in out) if w)  # "市" alone is "shi", a place word


def address_template(folded: str) -> tuple[str, list[str]]:
    """A folded address (no private-use characters: ``fold`` removed them) with leading zeros dropped and
    each digit run replaced by one marker, and its digit runs."""
    text = _LEADING_ZEROS_RE.sub(r"\g<1>\g<2>", folded)
    return _DIGITS_RE.sub(chr(MARKER), text), _DIGITS_RE.findall(text)


def _index_markers(template: str) -> str:
    """The k-th marker becomes marker k (past the cap, all stay the last one)."""
    k = -1

    def nxt(_: re.Match[str]) -> str:
        nonlocal k
        k = min(k + 1, MAX_NUMBERS - 1)
        return chr(MARKER + k)

    return re.sub(chr(MARKER), nxt, template)


@lru_cache(maxsize=1 << 16)
def address_key_template(template: str) -> str:
    """The address key body of a template, with marker k where the k-th number goes ("" if nothing is left)."""
    t = _index_markers(template)
    r = address_rules()
    t = _HAN_RUN_RE.sub(r" \g<0> ", t.translate(r.fold_table))
    t = _ADJACENT_NUMBERS_RE.sub(r"\g<1> ", t)  # "0'4" stays two numbers once the apostrophe is gone
    for rx, repl in _UNIT_SUBS:
        t = rx.sub(repl, t)
    t = f" {_SEPARATORS_RE.sub(' ', t).strip(' ')} "
    t = r.glossary_re.sub(lambda m: r.glossary[m[0]], t)
    words = [r.words.get(w, w) if not _HAN_RUN_RE.match(w) else han_address_words(w) for w in t.split(" ")]
    padded = " " + " ".join(w for w in words if w) + " "

    units = {u: m[1] for u, rx in _UNIT_RES.items() if (m := rx.search(padded))}
    parts, rest = [], padded
    street = _STREET_RE.search(padded)
    if street:
        parts.append(street[2].replace(" ", "") + " rd")
        if "no" not in units and (street[1] or street[3]):
            units["no"] = street[1] or street[3]
        rest = padded[: street.start()] + " " + padded[street.end() :]
    parts += [f"{u}{units[u]}" for u in UNIT_ORDER if u in units]
    places = sorted({w for w in rest.split(" ") if w and w not in (ROAD, PLACE) and w not in r.ignore
                     and not _UNIT_WORD_RE.match(w)})  # fmt: skip
    head, tail = " ".join(parts), " ".join(places)
    body = f"{head}, {tail}" if head and tail else head or tail
    return body if _WORDY_RE.search(body) else ""


def fill_template(key_template: str, numbers: list[str]) -> str:
    """Numbers put back where ``address_key_template`` left their markers."""
    return _NUM_RE.sub(lambda m: numbers[ord(m[0]) - MARKER], key_template)


def address_body(folded: str) -> str:
    """The address key without its family prefix ("" when nothing is left), from a folded value."""
    template, numbers = address_template(folded)
    return fill_template(address_key_template(template), numbers)


def address_block(key: str) -> str:
    """The block an address key falls in: street and house number when both are known, else the key."""
    m = _BLOCK_RE.match(key)
    return m[1] if m else key


# ---------------------------------------------------------------------------------------------
# Names


@cache
def _syllables() -> tuple[frozenset[str], int]:
    syl = rules()["names"]["pinyin_syllables"]
    return frozenset(syl), max(map(len, syl))


@lru_cache(maxsize=1 << 16)
def segment_pinyin(word: str) -> tuple[str, ...] | None:
    """``word`` as pinyin syllables, or None if it is not pinyin.

    Pinyin writes an apostrophe before a syllable opening with a, o or e (``Xi'an``), so inside a word
    no syllable opens with one: ``xuna`` is ``xu na``, not ``xun a``. Longer syllables are tried first."""
    syl, longest = _syllables()

    @cache
    def rest(i: int) -> tuple[str, ...] | None:
        if i == len(word):
            return ()
        for n in range(min(longest, len(word) - i), 0, -1):
            s = word[i : i + n]
            if s in syl and (i == 0 or s[0] not in "aoe") and (tail := rest(i + n)) is not None:
                return (s, *tail)
        return None

    return rest(0)


def _name_words(token: str) -> str:
    if _HAN_RUN_RE.fullmatch(token):
        return " ".join(syllables(token))
    parts = segment_pinyin(token) if token.isascii() and token.isalpha() else None
    return " ".join(parts) if parts else token


@lru_cache(maxsize=1 << 16)
def name_body(folded: str) -> str:
    """The contact name key without its family prefix: sorted pinyin syllables and other words."""
    t = _HAN_RUN_RE.sub(r" \g<0> ", folded.translate(address_rules().fold_table))
    words = " ".join(_name_words(w) for w in _SEPARATORS_RE.sub(" ", t).split(" ") if w).split(" ")
    body = " ".join(sorted(w for w in words if w))
    return body if _WORDY_RE.search(body) else ""
