"""Compiled kernel of :func:`counterwatch.detect.normalize.text_views`: the plain, skeleton and word
views of many texts in one pass over their UTF-8 bytes.

The per-character steps of the views (NFKC, zero-width removal, lower case, look-alike folding;
NFKD without marks and digit-for-letter folding) come as tables that ``normalize`` builds by
running the Polars expressions themselves on every character of the Basic Multilingual Plane, so
the two agree by construction. This kernel does what depends on neighbours: runs of whitespace and
separators, the spaces around Han runs, doubled letters, trimming and padding. A text with a
character the tables cannot stand for alone (outside the BMP, a combining mark, a letter that
composes with the one before, a final sigma) is flagged, and ``normalize`` gives it to Polars.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_SPACE = np.int32(32)
_SEP, _TOK, _HAN = 0, 1, 2
#: bits of a character's ``flags``
SAFE, WS, HAN, TOK, WORD, P_SELF, S_SELF = 1, 2, 4, 8, 16, 32, 64


@njit(cache=True, nogil=True, inline="always")
def _put(buf, n, cp):  # type: ignore[no-untyped-def]
    """UTF-8 of code point ``cp`` at ``buf[n:]`` (room is ensured by the caller); the new length."""
    if cp < 0x80:
        buf[n] = cp
        return n + 1
    if cp < 0x800:
        buf[n] = 0xC0 | (cp >> 6)
        buf[n + 1] = 0x80 | (cp & 0x3F)
        return n + 2
    buf[n] = 0xE0 | (cp >> 12)
    buf[n + 1] = 0x80 | ((cp >> 6) & 0x3F)
    buf[n + 2] = 0x80 | (cp & 0x3F)
    return n + 3


@njit(cache=True, nogil=True)
def _room(buf, n, need):  # type: ignore[no-untyped-def]
    """``buf`` with room for ``need`` more bytes after ``n`` (doubled when short)."""
    if n + need <= len(buf):
        return buf
    out = np.empty(max(2 * len(buf), n + need), np.uint8)
    out[:n] = buf[:n]
    return out


@njit(cache=True, nogil=True)
def views(  # type: ignore[no-untyped-def]
    offsets, data, flags, p_start, p_cps, s_start, s_cps, want_skeleton, want_token,
):  # fmt: skip
    """Per text ``data[offsets[i]:offsets[i+1]]``: the plain, skeleton and word views (UTF-8 buffers
    and offsets), the script flags (Latin letters, Greek or Cyrillic letters, invisible characters)
    and whether it must go to Polars instead (then its views are empty)."""
    n = len(offsets) - 1
    out_off = np.zeros((3, n + 1), np.int64)
    size = max(64, 2 * (offsets[n] - offsets[0]))
    plain_buf = np.empty(size, np.uint8)
    skel_buf = np.empty(size if want_skeleton else 0, np.uint8)
    tok_buf = np.empty(size if want_token else 0, np.uint8)
    n_plain = n_skel = n_tok = 0
    latin = np.zeros(n, np.bool_)
    greek_cyrillic = np.zeros(n, np.bool_)
    invisible = np.zeros(n, np.bool_)
    fallback = np.zeros(n, np.bool_)
    longest = 1
    for i in range(n):
        longest = max(longest, offsets[i + 1] - offsets[i])
    # Room for the longest text's expansions (a character's mapping is a few code points; NFKC's
    # longest is 18), and a space between any two code points of the two token views.
    p_most = np.int64(np.max(p_start[1:] - p_start[:-1]))
    s_most = np.int64(np.max(s_start[1:] - s_start[:-1]))
    text = np.empty(longest + 1, np.int32)
    plain = np.empty(longest * p_most + 1, np.int32)
    for i in range(n):
        # Decode; note the flags; stop at any character the tables cannot stand for alone.
        j = offsets[i]
        end = offsets[i + 1]
        m = 0
        ok = True
        while j < end:
            b = data[j]
            if b < 0x80:
                cp = np.int32(b)
                j += 1
            elif b < 0xE0:
                cp = np.int32(((b & 0x1F) << 6) | (data[j + 1] & 0x3F))
                j += 2
            elif b < 0xF0:
                cp = np.int32(((b & 0x0F) << 12) | ((data[j + 1] & 0x3F) << 6) | (data[j + 2] & 0x3F))
                j += 3
            else:
                cp = np.int32(0x10000)  # outside the BMP: Polars
                j += 4
            if (65 <= cp <= 90) or (97 <= cp <= 122):
                latin[i] = True
            elif 0x370 <= cp <= 0x4FF:
                greek_cyrillic[i] = True
            elif (0x200B <= cp <= 0x200F) or (0x2060 <= cp <= 0x2064) or cp == 0xFEFF:
                invisible[i] = True
            if cp >= 0x10000 or not flags[cp] & SAFE:
                ok = False
            text[m] = cp
            m += 1
        if not ok:
            fallback[i] = True
            out_off[0, i + 1] = n_plain
            out_off[1, i + 1] = n_skel
            out_off[2, i + 1] = n_tok
            continue
        # Plain: each character's mapping, whitespace runs as one space; kept as code points for the
        # other views and written out as UTF-8.
        pm = 0
        in_ws = False
        plain_buf = _room(plain_buf, n_plain, 3 * m * p_most)
        for t in range(m):
            c = text[t]
            if flags[c] & P_SELF:  # most characters are their own plain form
                lo, hi, one = 0, 1, True
            else:
                lo, hi, one = p_start[c], p_start[c + 1], False
            for q in range(lo, hi):
                x = c if one else p_cps[q]
                if flags[x] & WS:
                    if in_ws:
                        continue
                    x = _SPACE
                    in_ws = True
                else:
                    in_ws = False
                plain[pm] = x
                pm += 1
                n_plain = _put(plain_buf, n_plain, x)
        out_off[0, i + 1] = n_plain
        # Skeleton: marks dropped and digits folded per character; tokens (letters and digits, Han
        # runs apart) joined by one space; runs of one letter shortened as two passes of "aa" -> "a"
        # do (a run of k keeps ceil(k / 4)); a space at each end.
        if want_skeleton:
            skel_buf = _room(skel_buf, n_skel, 4 * pm * s_most + 2)
            n_skel = _put(skel_buf, n_skel, _SPACE)
            first = n_skel
            pending = False
            prev = -1
            last = -1
            run = 0
            for t in range(pm):
                c = plain[t]
                if flags[c] & S_SELF:
                    lo, hi, one = 0, 1, True
                else:
                    lo, hi, one = s_start[c], s_start[c + 1], False
                for q in range(lo, hi):
                    x = c if one else s_cps[q]
                    f = flags[x]
                    kind = _HAN if f & HAN else (_TOK if f & TOK else _SEP)
                    if kind == _SEP:
                        pending = True
                        continue
                    if n_skel > first and (pending or kind != prev):
                        n_skel = _put(skel_buf, n_skel, _SPACE)
                        last = -1
                    pending = False
                    prev = kind
                    if x == last and 97 <= x <= 122:
                        run += 1
                        if run % 4 != 0:
                            continue
                    else:
                        last = x
                        run = 0
                    n_skel = _put(skel_buf, n_skel, x)
            n_skel = _put(skel_buf, n_skel, _SPACE)
        out_off[1, i + 1] = n_skel
        # Words: letters and numbers, Han runs apart, joined by one space; a space at each end.
        if want_token:
            tok_buf = _room(tok_buf, n_tok, 4 * pm + 2)
            n_tok = _put(tok_buf, n_tok, _SPACE)
            first = n_tok
            pending = False
            prev = -1
            for t in range(pm):
                x = plain[t]
                f = flags[x]
                if not f & WORD:
                    pending = True
                    continue
                kind = _HAN if f & HAN else _TOK
                if n_tok > first and (pending or kind != prev):
                    n_tok = _put(tok_buf, n_tok, _SPACE)
                pending = False
                prev = kind
                n_tok = _put(tok_buf, n_tok, x)
            n_tok = _put(tok_buf, n_tok, _SPACE)
        out_off[2, i + 1] = n_tok
    return (plain_buf[:n_plain], skel_buf[:n_skel], tok_buf[:n_tok], out_off, latin, greek_cyrillic, invisible,
            fallback)  # fmt: skip
