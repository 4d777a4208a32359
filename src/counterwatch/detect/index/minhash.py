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
each signature position then agrees with probability J, as with classic MinHash.

Work: texts are normalised as a column (Polars), once per distinct text; the rest is compiled
kernels (numba, in ``_minhash_kernels``; compiled on first call and cached on disk, none
at import). One kernel reads the UTF-8 bytes straight from the Arrow buffer and does
characters, shingle hashes, bin minima and densification text by text (the first non-empty
bin along a probe sequence is found as a vectorised min over a precomputed first-round table,
not probe by probe). Another takes each query's band keys to the bucket table and compares
the signatures of the distinct candidates. :func:`signature_one` is the same arithmetic in plain Python,
the reference the kernels are tested against; :meth:`TextIndex.query_one` (one listing at creation)
runs the signature kernel on the one text's bytes and the lookup in plain Python.

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

from counterwatch.detect.frames import distinct_rows
from counterwatch.detect.index import BucketTable, _minhash_kernels, bits_for, fmix64
from counterwatch.detect.index._minhash_kernels import _EMPTY, _PAD, _PRIME
from counterwatch.detect.normalize import NOT_WORD_RUNS

_DENSIFY_ROUNDS_PER_BIN = 16  # probe rounds, times num_perm; a bin still empty after that is vanishingly rare

Texts = list[str] | pl.Series | pa.Array | pa.ChunkedArray


def normalise(texts: Texts, *, plain: bool = False) -> pl.Series:
    """NFKC, lower case, runs of anything but letters and digits to one space, trimmed; null to "".

    ``plain``: the texts are plain views (``normalize.plain``: already NFKC and lower-cased, which
    are most of the work), so only the runs are turned into spaces."""
    s = texts if isinstance(texts, pl.Series) else pl.Series(texts, dtype=pl.String)
    s = s.cast(pl.String).fill_null("")
    if not plain:
        s = s.str.normalize("NFKC").str.to_lowercase()
    # runs of anything but letters and digits (a lone space stays)
    return s.str.replace_all(NOT_WORD_RUNS, " ").str.strip_chars()


_NOT_ALNUM_RE = re.compile(r"[\W_]+")  # Python's \w without "_": Unicode letters and numbers
_MASK64 = (1 << 64) - 1
_FMIX_INTS = (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53)  # as ``index.fmix64``


def normalise_one(text: str | None, *, plain: bool = False) -> str:
    """One text normalised as :func:`normalise` does a column."""
    t = text or ""
    return _NOT_ALNUM_RE.sub(" ", t if plain else unicodedata.normalize("NFKC", t).lower()).strip(" ")


def _fmix64_int(x: int) -> int:
    """:func:`fmix64` of one Python int (the single-text path, where numpy's per-call cost dominates)."""
    for mult in _FMIX_INTS:
        x = ((x ^ (x >> 33)) * mult) & _MASK64
    return x ^ (x >> 33)


def signature_one(text: str | None, num_perm: int = 64, shingle: int = 3, *, plain: bool = False
                  ) -> tuple[list[int], bool]:  # fmt: skip
    """:func:`signatures` of one text as Python ints, and whether it had any shingle: the same character
    codes, shingle hashes, bins and densification, without building columns (the single-listing path)."""
    chars = [int.from_bytes(c.encode("utf-8"), "big") for c in normalise_one(text, plain=plain)]
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


def _signature_compiled(text: str | None, num_perm: int, shingle: int, plain: bool) -> tuple[list[int], bool]:
    """:func:`signature_one` by the batch kernel on one text's bytes (about 10 µs against 170 in plain
    Python; no column machinery): the single-listing path's signature."""
    data = np.frombuffer(normalise_one(text, plain=plain).encode("utf-8"), dtype=np.uint8)  # read-only, as Arrow's
    offsets = np.array([0, len(data)], dtype=np.int64)
    offsets.flags.writeable = False  # the signature the fork server preloads (Arrow buffers are read-only)
    sig, has = _minhash_kernels.signatures(offsets, data, num_perm, shingle, _first_seen(num_perm))
    return sig[0].tolist(), bool(has[0])


def signatures(texts: Texts, num_perm: int = 64, shingle: int = 3, *, plain: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """MinHash signatures ``(len(texts), num_perm)`` uint32, and whether each text had any shingle
    (``plain``: as :func:`normalise`).

    A character is its UTF-8 lead byte and continuation bytes packed big-endian (as
    :func:`signature_one`), which identifies it as well as its code point does.
    """
    if shingle < 1 or not 1 <= num_perm < 4096:
        raise ValueError(f"signatures: need shingle >= 1 and 1 <= num_perm < 4096, got {shingle} and {num_perm}")
    arr = normalise(texts, plain=plain).to_arrow()
    arr = (arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr).cast(pa.large_string())
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf else np.zeros(0, np.uint8)
    return _minhash_kernels.signatures(offsets, data, num_perm, shingle, _first_seen(num_perm))


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
def _first_seen(num_perm: int) -> np.ndarray:
    """``(num_perm, num_perm)`` uint32: ``t << 16 | q`` for the first round t at which empty bin j's probe
    sequence reads bin q, 0xFFFFFFFF if never. The first non-empty bin on the sequence is then the
    non-empty q of lowest value: the signature kernel takes a min over bins instead of probing."""
    probes = _probe_sequences(num_perm)  # rounds < 2**16 and bins < 2**16: num_perm < 4096
    rounds = np.arange(probes.shape[0], dtype=np.uint32)[:, None]
    j = np.broadcast_to(np.arange(num_perm), probes.shape)
    first_seen = np.full((num_perm, num_perm), 0xFFFFFFFF, dtype=np.uint32)
    np.minimum.at(first_seen, (j, probes), (rounds << np.uint32(16)) | probes.astype(np.uint32))
    first_seen.flags.writeable = False  # cached: shared by every call
    return first_seen


@functools.lru_cache(maxsize=8)
def _probe_lists(num_perm: int) -> tuple[list[int], ...]:
    return tuple(row.tolist() for row in _probe_sequences(num_perm))


def band_keys(sig: np.ndarray, bands: int) -> np.ndarray:
    """One uint64 key per band per text, ``(len(sig), bands)``; the band number is part of the key."""
    return _minhash_kernels.band_keys(np.ascontiguousarray(sig, dtype=np.uint32), bands)


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
    #: the indexed texts were plain views (``normalise(..., plain=True)``), and so must the queries be
    plain: bool = False

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
        plain: bool = False,
    ) -> TextIndex:
        """Index ``texts`` with their ``payload`` (int64); texts with no letters or digits are left out.
        ``plain``: the texts are plain views (``normalize.plain``), and the queries will be too.

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
        first, inverse = distinct_rows(s)
        sig, has = signatures(s.gather(first), num_perm, shingle, plain=plain)
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
        return cls(np.ascontiguousarray(sig), p, num_perm, bands, shingle, table, plain)

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
        first, inverse = distinct_rows(s)
        sig, has = signatures(s.gather(first), self.num_perm, self.shingle, plain=self.plain)
        best_payload, best_jaccard = self.query_signatures(sig, has, min_jaccard=min_jaccard)
        return best_payload[inverse], best_jaccard[inverse]

    def query_one(self, text: str | None, *, min_jaccard: float = 0.0) -> tuple[int, float]:
        """:meth:`query` for one text, in plain Python over the index's arrays (no column machinery,
        for the single-listing path): ``(best_payload, best_jaccard)``, ``(-1, 0.0)`` when none qualifies."""
        sig, has = _signature_compiled(text, self.num_perm, self.shingle, self.plain)
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
        if not items:
            return -1, 0.0
        need = int(np.ceil(min_jaccard * self.num_perm - 1e-9))
        candidates = np.array(sorted(items), dtype=np.int64)
        # Every candidate compared in one array operation (one numpy call per candidate was most of a
        # single listing's scoring time); the first maximum is the lowest item, as in :meth:`query_signatures`.
        agree = np.count_nonzero(self.signatures[candidates] == np.array(sig, dtype=np.uint32), axis=1)
        top = int(np.argmax(agree))
        if int(agree[top]) < need:
            return -1, 0.0
        return int(self.payload[candidates[top]]), float(np.float32(int(agree[top]) / self.num_perm))

    def query_signatures(
        self, sig: np.ndarray, has: np.ndarray, *, min_jaccard: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`query`, from signatures made by :func:`signatures` with this index's settings."""
        if sig.ndim != 2 or sig.shape[1] != self.num_perm:
            raise ValueError(f"TextIndex.query_signatures: signatures {sig.shape}, expected (n, {self.num_perm})")
        n = len(sig)
        best_payload = np.full(n, -1, dtype=np.int64)
        best_jaccard = np.zeros(n, dtype=np.float32)
        if not n or not len(self.payload):
            return best_payload, best_jaccard
        table = self.table
        best, agree = _minhash_kernels.best_matches(
            np.ascontiguousarray(sig, dtype=np.uint32),
            np.ascontiguousarray(has, dtype=bool),
            self.bands,
            table.bits,
            table.starts,
            table.keys,
            table.entries,
            self.signatures,
            int(np.ceil(min_jaccard * self.num_perm - 1e-9)),
        )
        found = best >= 0
        best_payload[found] = self.payload[best[found]]
        best_jaccard[found] = agree[found] / self.num_perm
        return best_payload, best_jaccard


def _as_series(texts: Texts) -> pl.Series:
    return texts if isinstance(texts, pl.Series) else pl.Series(texts, dtype=pl.String)
