"""Near-duplicate text: MinHash signatures of character shingles, found through LSH banding.

Used by the re-listing signal: a listing whose title is a light edit of one already taken
down. Text is normalised (Unicode NFKC, lower case, every run of non-letters and non-digits
to one space) and cut into character n-grams (``shingle`` = 3 by default), which suits
unsegmented Chinese as well as spaced scripts. Texts shorter than ``shingle`` are one shingle.

Signatures: one-permutation MinHash with optimal densification (Li, Owen and Zhang, NeurIPS
2012; Shrivastava, ICML 2017), the same estimator as ``num_perm`` independent permutations at
``1/num_perm`` of the hashing work. Each shingle is hashed once (64-bit); the high 32 bits pick
one of ``num_perm`` bins, the low 32 bits are its value, and each bin keeps the minimum. An
empty bin (a short text) takes the value of the first non-empty bin along a fixed pseudo-random
probe sequence of that bin, the same for every text. For two texts with Jaccard similarity J,
each signature position then agrees with probability J, as with classic MinHash. The work
is a handful of numpy passes over all shingles of all texts at once (one ``np.minimum.at``),
instead of ``num_perm`` passes of ``a*x + b mod p`` and ``np.minimum.reduceat``; texts are
never visited one by one: their UTF-8 bytes are read straight from the Arrow buffer.

LSH: the signature is cut into ``bands`` bands of ``rows = num_perm / bands`` positions; two
texts become candidates when any band agrees, which happens with probability
``1 - (1 - J**rows)**bands`` (the S-curve). For 64 = 16 x 4 (default)::

    J      0.2    0.3    0.4    0.5    0.6    0.7    0.8    0.9
    P      0.03   0.12   0.34   0.64   0.89   0.99   1.00   1.00

so the threshold (where P = 1/2) is near ``(1/bands)**(1/rows)`` = 0.5. Among the candidates,
``query`` picks the indexed text with the most agreeing positions (the estimated Jaccard,
standard error ``sqrt(J(1-J)/num_perm)``, about 0.06 at J = 0.5). Guarantees are therefore
probabilistic: a near-duplicate at J = 0.8 is missed about once in 1,000; an unrelated text
(J < 0.2) is a candidate about once in 50 and then carries its low estimate, which the caller
thresholds (``min_jaccard``). Everything is deterministic: same texts, same signatures, same
answers, on every machine.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from counterwatch.detect.index import BucketTable, bits_for, distinct, fmix64

_EMPTY = np.uint32(0xFFFFFFFF)  # an empty bin; real values are clipped below it
_PRIME = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier for combining characters and band rows
_PAD = np.uint64(0x2545F4914F6CDD1D)  # stands for "past the end" in a text shorter than a shingle
_DENSIFY_ROUNDS_PER_BIN = 16  # probe rounds, times num_perm; a bin still empty after that is vanishingly rare
_QUERY_BLOCK = 1 << 15  # query signatures per step
_PAIR_BLOCK = 1 << 18  # candidate pairs compared per step (2 x 64 MB of gathered signatures)

Texts = list[str] | pl.Series | pa.Array | pa.ChunkedArray


def normalise(texts: Texts) -> pl.Series:
    """NFKC, lower case, runs of anything but letters and digits to one space, trimmed; null to ""."""
    s = texts if isinstance(texts, pl.Series) else pl.Series(texts, dtype=pl.String)
    return (
        s.cast(pl.String)
        .fill_null("")
        .str.normalize("NFKC")
        .str.to_lowercase()
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
    )


_NOT_ALNUM_RE = re.compile(r"[\W_]+")  # Python's \w without "_": Unicode letters and numbers
_MASK64 = (1 << 64) - 1
_FMIX_INTS = (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53)  # as ``index.fmix64``


def normalise_one(text: str | None) -> str:
    """One text normalised as :func:`normalise` does a column."""
    return _NOT_ALNUM_RE.sub(" ", unicodedata.normalize("NFKC", text or "").lower()).strip(" ")


def _fmix64_int(x: int) -> int:
    """:func:`fmix64` of one Python int (the single-text path, where numpy's per-call cost dominates)."""
    for mult in _FMIX_INTS:
        x = ((x ^ (x >> 33)) * mult) & _MASK64
    return x ^ (x >> 33)


def signature_one(text: str | None, num_perm: int = 64, shingle: int = 3) -> tuple[list[int], bool]:
    """:func:`signatures` of one text as Python ints, and whether it had any shingle: the same character
    codes, shingle hashes, bins and densification, without building columns (the single-listing path)."""
    chars = [int.from_bytes(c.encode("utf-8"), "big") for c in normalise_one(text)]
    n = len(chars)
    prime, pad, empty = int(_PRIME), int(_PAD), int(_EMPTY)
    sig = [empty] * num_perm
    for at in range(n - shingle + 1) if n >= shingle else range(min(n, 1)):
        h = shingle
        for k in range(shingle):
            h = ((h ^ (chars[at + k] if at + k < n else pad)) * prime) & _MASK64
        h = _fmix64_int(h)
        b = ((h >> 32) * num_perm) >> 32
        v = min(h & 0xFFFFFFFF, empty - 1)
        if v < sig[b]:
            sig[b] = v
    has = n > 0
    if has:
        probes = _probe_lists(num_perm)
        out = list(sig)
        for j in range(num_perm):
            if sig[j] == empty:
                got = next((sig[p[j]] for p in probes if sig[p[j]] != empty), None)
                out[j] = got if got is not None else next(v for v in sig if v != empty)
        sig = out
    return sig, has


def characters(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Every character of every text as a uint32 (its UTF-8 bytes), and each text's start: ``(chars, offsets)``.

    Reads the Arrow UTF-8 buffer directly: a character is a lead byte and its continuation
    bytes, packed big-endian, which identifies it as well as its code point does.
    """
    arr = texts.to_arrow()
    arr = (arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr).cast(pa.large_string())
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]] if data_buf else np.zeros(0, np.uint8)
    lead = (data & 0xC0) != 0x80
    pos = np.flatnonzero(lead)
    length = np.diff(np.r_[pos, len(data)])
    padded = np.r_[data, np.zeros(3, np.uint8)]
    chars = padded[pos].astype(np.uint32)
    wide = np.flatnonzero(length > 1)  # usually a minority: only these need their continuation bytes
    for k in range(1, 4):
        wide = wide[length[wide] > k]
        chars[wide] = (chars[wide] << np.uint32(8)) | padded[pos[wide] + k]
    char_offsets = np.r_[0, np.cumsum(lead)][offsets - offsets[0]]
    return chars, char_offsets.astype(np.int64)


def shingle_hashes(chars: np.ndarray, offsets: np.ndarray, shingle: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every character ``shingle``-gram, with the text each belongs to: ``(text, hash)``."""
    lengths = np.diff(offsets)
    text = np.repeat(np.arange(len(lengths)), lengths)
    end = np.repeat(offsets[1:], lengths)
    at = np.arange(len(chars))
    padded = np.r_[chars.astype(np.uint64), np.zeros(shingle, np.uint64)]
    h = np.full(len(chars), np.uint64(shingle), dtype=np.uint64)
    for k in range(shingle):
        h = (h ^ np.where(at + k < end, padded[k : k + len(chars)], _PAD)) * _PRIME
    whole = at + shingle <= end
    short = (np.repeat(lengths, lengths) < shingle) & (at == np.repeat(offsets[:-1], lengths))
    keep = whole | short
    return text[keep], fmix64(h[keep])


def signatures(texts: Texts, num_perm: int = 64, shingle: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures ``(len(texts), num_perm)`` uint32, and whether each text had any shingle."""
    s = normalise(texts)
    chars, offsets = characters(s)
    text, h = shingle_hashes(chars, offsets, shingle)
    n = len(s)
    bins = ((h >> np.uint64(32)) * np.uint64(num_perm)) >> np.uint64(32)  # uniform in [0, num_perm)
    values = np.minimum(h & np.uint64(0xFFFFFFFF), np.uint64(_EMPTY - 1)).astype(np.uint32)
    sig = np.full(n * num_perm, _EMPTY, dtype=np.uint32)
    np.minimum.at(sig, text * num_perm + bins.astype(np.int64), values)
    sig = sig.reshape(n, num_perm)
    has = np.zeros(n, dtype=bool)
    has[text] = True
    return _densify(sig, has), has


def _densify(sig: np.ndarray, has: np.ndarray, block: int = 1 << 14) -> np.ndarray:
    """Fill each empty bin from the first non-empty bin on its probe sequence (the same for every text)."""
    # Blocks of texts keep the probe loop's arrays in cache (3x faster than one pass over 1M texts).
    return np.concatenate(
        [np.zeros((0, sig.shape[1]), np.uint32)]
        + [_densify_block(sig[i : i + block], has[i : i + block]) for i in range(0, len(sig), block)]
    )


def _densify_block(sig: np.ndarray, has: np.ndarray) -> np.ndarray:
    n, num_perm = sig.shape
    probes = _probe_sequences(num_perm)
    flat = sig.ravel()
    out = sig.copy().ravel()
    row, col = np.nonzero((sig == _EMPTY) & has[:, None])
    base, col = row.astype(np.int64) * num_perm, col.astype(np.int64)
    for t in range(len(probes)):
        if not len(base):
            break
        got = flat[base + probes[t][col]]
        ok = got != _EMPTY
        out[(base + col)[ok]] = got[ok]
        base, col = base[~ok], col[~ok]
    if len(base):  # deterministic fallback, vanishingly rare: the text's first non-empty bin
        rows = base // num_perm
        out[base + col] = sig[rows, np.argmax(sig[rows] != _EMPTY, axis=1)]
    return out.reshape(n, num_perm)


@functools.lru_cache(maxsize=8)
def _probe_sequences(num_perm: int) -> np.ndarray:
    """``(rounds, num_perm)``: the bin that empty bin j looks at in round t; fixed, so texts agree."""
    t = np.arange(_DENSIFY_ROUNDS_PER_BIN * num_perm, dtype=np.uint64)[:, None]
    j = np.arange(num_perm, dtype=np.uint64)[None, :]
    probes = (
        (fmix64((j << np.uint64(32)) | (t + np.uint64(1))) >> np.uint64(32)) * np.uint64(num_perm) >> np.uint64(32)
    ).astype(np.int64)
    probes.flags.writeable = False  # cached: shared by every call
    return probes


@functools.lru_cache(maxsize=8)
def _probe_lists(num_perm: int) -> tuple[list[int], ...]:
    return tuple(row.tolist() for row in _probe_sequences(num_perm))


def band_keys(sig: np.ndarray, bands: int) -> np.ndarray:
    """One uint64 key per band per text, ``(len(sig), bands)``; the band number is part of the key."""
    n, num_perm = sig.shape
    rows = num_perm // bands
    banded = sig.reshape(n, bands, rows).astype(np.uint64)
    h = np.broadcast_to(fmix64(np.arange(bands, dtype=np.uint64) + np.uint64(1)), (n, bands)).copy()
    for k in range(rows):
        h = (h ^ banded[:, :, k]) * _PRIME
    return fmix64(h)


def s_curve(jaccard: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """Probability that two texts with this Jaccard similarity become LSH candidates."""
    return 1 - (1 - np.asarray(jaccard, dtype=np.float64) ** rows) ** bands


@dataclass(frozen=True, slots=True)
class TextIndex:
    """MinHash LSH over indexed texts; identical signatures are kept once, under their lowest payload."""

    signatures: np.ndarray  # uint32 (items, num_perm), items ordered by payload
    payload: np.ndarray  # int64 per item, ascending
    num_perm: int
    bands: int
    shingle: int
    table: BucketTable  # band keys of every item, entries = item index

    @classmethod
    def build(
        cls,
        texts: Texts,
        payload: np.ndarray,
        *,
        num_perm: int = 64,
        bands: int = 16,
        shingle: int = 3,
        max_bucket: int = 16,
    ) -> TextIndex:
        """Index ``texts`` with their ``payload`` (int64); texts with no letters or digits are left out.

        A band value shared by more than ``max_bucket`` distinct signatures (a template title)
        keeps only the ``max_bucket`` lowest payloads, which bounds a query's candidates at
        ``bands * max_bucket``; such items stay findable through their other bands.
        """
        p = np.asarray(payload, dtype=np.int64).ravel()
        if len(p) != len(texts):
            raise ValueError(f"TextIndex.build: {len(texts)} texts but {len(p)} payloads; give one payload per text")
        if num_perm % bands or not 0 < bands <= num_perm:
            raise ValueError(f"TextIndex.build: num_perm={num_perm} must be a multiple of bands={bands}")
        s = _as_series(texts)
        first, inverse = distinct_texts(s)
        sig, has = signatures(s.gather(first), num_perm, shingle)
        sig, has = sig[inverse], has[inverse]
        order = np.argsort(p, kind="stable")
        order = order[has[order]]
        sig, p = sig[order], p[order]
        if len(sig):
            _, first = np.unique(sig, axis=0, return_index=True)  # first occurrence: the lowest payload
            first = np.sort(first)
            sig, p = sig[first], p[first]
        keys = band_keys(sig, bands).ravel()
        ids = np.repeat(np.arange(len(sig)), bands)
        by_key = np.lexsort((ids, keys))
        first = np.r_[True, keys[by_key][1:] != keys[by_key][:-1]] if len(keys) else np.zeros(0, bool)
        starts = np.maximum.accumulate(np.where(first, np.arange(len(keys)), 0))
        kept = np.sort(by_key[np.arange(len(keys)) - starts < max_bucket])
        table = BucketTable.build(keys[kept], bits_for(len(kept)), ids[kept])
        return cls(np.ascontiguousarray(sig), p, num_perm, bands, shingle, table)

    def __len__(self) -> int:
        return len(self.payload)

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands

    def query(self, texts: Texts, *, min_jaccard: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """For each text, the candidate with the highest estimated Jaccard: ``(best_payload, best_jaccard)``.

        ``best_payload`` is -1 (and ``best_jaccard`` 0) where no candidate reaches ``min_jaccard``;
        ties go to the lowest payload.
        """
        s = _as_series(texts)
        first, inverse = distinct_texts(s)
        sig, has = signatures(s.gather(first), self.num_perm, self.shingle)
        best_payload, best_jaccard = self.query_signatures(sig, has, min_jaccard=min_jaccard)
        return best_payload[inverse], best_jaccard[inverse]

    def query_one(self, text: str | None, *, min_jaccard: float = 0.0) -> tuple[int, float]:
        """:meth:`query` for one text, in plain Python over the index's arrays (no column machinery,
        for the single-listing path): ``(best_payload, best_jaccard)``, ``(-1, 0.0)`` when none qualifies."""
        sig, has = signature_one(text, self.num_perm, self.shingle)
        if not has or not len(self.payload):
            return -1, 0.0
        rows, table = self.rows, self.table
        prime = int(_PRIME)
        items: set[int] = set()
        for band in range(self.bands):
            h = _fmix64_int(band + 1)
            for k in range(rows):
                h = ((h ^ sig[band * rows + k]) * prime) & _MASK64
            key = _fmix64_int(h)
            bucket = key & ((1 << table.bits) - 1)
            for g in range(int(table.starts[bucket]), int(table.starts[bucket + 1])):
                if int(table.keys[g]) == key:
                    items.add(int(table.entries[g]))
        need = int(np.ceil(min_jaccard * self.num_perm - 1e-9))
        best, best_agree = -1, -1
        q = np.array(sig, dtype=np.uint32)
        for item in sorted(items):  # ties go to the lowest item, as in :meth:`query_signatures`
            agree = int(np.count_nonzero(self.signatures[item] == q))
            if agree >= need and agree > best_agree:
                best, best_agree = item, agree
        if best < 0:
            return -1, 0.0
        return int(self.payload[best]), float(np.float32(best_agree / self.num_perm))

    def query_signatures(
        self, sig: np.ndarray, has: np.ndarray, *, min_jaccard: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`query`, from signatures made by :func:`signatures` with this index's settings."""
        n = len(sig)
        parts = [
            self._candidates(sig[i : i + _QUERY_BLOCK], has[i : i + _QUERY_BLOCK], min_jaccard)
            for i in range(0, n, _QUERY_BLOCK)
        ]
        qi = np.concatenate(
            [np.zeros(0, np.int64), *(p[0] + i for p, i in zip(parts, range(0, n, _QUERY_BLOCK), strict=True))]
        )
        item = np.concatenate([np.zeros(0, np.int64), *(p[1] for p in parts)])
        agree = np.concatenate([np.zeros(0, np.int64), *(p[2] for p in parts)])
        # Highest agreement first, then lowest item (= lowest payload): one max over a packed key.
        packed = (agree << 32) | (0xFFFFFFFF - item)
        best = np.full(n, -1, dtype=np.int64)
        np.maximum.at(best, qi, packed)
        found = best >= 0
        best_item = 0xFFFFFFFF - (best[found] & 0xFFFFFFFF)
        best_payload = np.full(n, -1, dtype=np.int64)
        best_payload[found] = self.payload[best_item]
        best_jaccard = np.zeros(n, dtype=np.float32)
        best_jaccard[found] = (best[found] >> 32) / self.num_perm
        return best_payload, best_jaccard

    def _candidates(
        self, sig: np.ndarray, has: np.ndarray, min_jaccard: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct (query, item) pairs sharing a band, with their agreeing positions, for one block."""
        keys = band_keys(sig, self.bands).ravel()
        probe, grouped = self.table.lookup(keys)
        same = self.table.keys[grouped] == keys[probe]
        qi, item = probe[same] // self.bands, self.table.entries[grouped[same]].astype(np.int64)
        ok = has[qi]
        pair = distinct(qi[ok] * len(self.payload) + item[ok])  # a near-duplicate shares many bands
        qi, item = pair // max(len(self.payload), 1), pair % max(len(self.payload), 1)
        agree = np.concatenate(
            [np.zeros(0, np.int64)]
            + [
                (sig[qi[j : j + _PAIR_BLOCK]] == self.signatures[item[j : j + _PAIR_BLOCK]]).sum(axis=1, dtype=np.int64)
                for j in range(0, len(qi), _PAIR_BLOCK)
            ]
        )
        enough = agree >= int(np.ceil(min_jaccard * self.num_perm - 1e-9))
        return qi[enough], item[enough], agree[enough]


def _as_series(texts: Texts) -> pl.Series:
    return texts if isinstance(texts, pl.Series) else pl.Series(texts, dtype=pl.String)


def distinct_texts(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the first of each distinct text, and each text's distinct index: ``(first, inverse)``.

    Marketplace titles repeat (templates, re-listings), so signatures are computed once per
    distinct text. Texts are told apart by a 64-bit hash: two different texts would be merged
    with probability about n^2 / 2^65.
    """
    h = texts.hash(seed=0x5EED).to_numpy()
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    return first, inverse.ravel()
