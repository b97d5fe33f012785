"""The generator itself: Philox4x32-10 as Random123 defines it (docs/stream.md, "Generator").

Checked three ways: the published known answers, the independent ``randomgen`` package, and a
20-line pure-Python Philox written from the paper's constants.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fastinit
from fastinit import _core

from conftest import assert_same_bytes

randomgen = pytest.importorskip("randomgen")

KAT_FILE = Path("/work/shared/reference/philox4x32_kat.txt")
MASK32 = 0xFFFFFFFF
STREAM_MASK = (1 << 48) - 1

# Random123's tests/kat_vectors, philox4x32 10 lines (kept inline so the suite runs anywhere;
# test_kat_file_matches_inline_copy checks them against the shared reference file).
KAT_VECTORS = [
    # counter[0..3], key[0..1], expected[0..3]
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


# ---- pure-Python reference (Salmon et al. 2011; constants from docs/stream.md) ----------------
def philox4x32_10(counter, key):
    """One Philox4x32-10 block: 4 counter words and 2 key words in, 4 words out."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for rnd in range(10):
        if rnd:  # the key is bumped before rounds 2..10
            k0 = (k0 + 0x9E3779B9) & MASK32
            k1 = (k1 + 0xBB67AE85) & MASK32
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0, p1 & MASK32, (p0 >> 32) ^ c3 ^ k1, p0 & MASK32)
    return c0, c1, c2, c3


def reference_words(seed: int, stream: int, offset: int, count: int, sub_stream: int = 0):
    """Words offset .. offset+count-1 of (seed, stream), per docs/stream.md "Raw words"."""
    key = (seed & MASK32, seed >> 32)
    out = []
    for w in range(offset, offset + count):
        block = (w // 4) % (1 << 64)
        counter = (block & MASK32, block >> 32, stream & MASK32,
                   (stream >> 32) | (sub_stream << 16))
        out.append(philox4x32_10(counter, key)[w % 4])
    return np.array(out, dtype=np.uint32)


def randomgen_words(seed: int, stream: int, first_block: int, count: int, sub_stream: int = 0):
    """randomgen's Philox4x32 from counter (first_block, stream | sub_stream << 48).

    randomgen increments its 128-bit counter *before* the first output, so it is given the
    counter minus one (mod 2**128). Its key, as an int, is k0 + k1 * 2**32 = our seed.
    """
    counter = first_block + (((sub_stream << 48) | stream) << 64)
    bg = randomgen.Philox(number=4, width=32, counter=(counter - 1) % (1 << 128), key=seed)
    return bg.random_raw(count).astype(np.uint32)


def _counter_args(counter):
    """Split a KAT counter into the private core's (stream, first_block, sub_stream)."""
    c0, c1, c2, c3 = counter
    stream = (c3 << 32 | c2) & STREAM_MASK
    return stream, c1 << 32 | c0, c3 >> 16


# ---- known answers ---------------------------------------------------------------------------
def test_kat_file_matches_inline_copy():
    if not KAT_FILE.exists():
        pytest.skip(f"{KAT_FILE} not present")
    rows = []
    for line in KAT_FILE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, rounds, *words = line.split()
        assert name == "philox4x32" and rounds == "10", line
        w = [int(x, 16) for x in words]
        rows.append((tuple(w[0:4]), tuple(w[4:6]), tuple(w[6:10])))
    assert rows == KAT_VECTORS


@pytest.mark.parametrize("counter,key,expected", KAT_VECTORS)
def test_reference_implementation_passes_kat(counter, key, expected):
    assert philox4x32_10(counter, key) == expected


@pytest.mark.parametrize("counter,key,expected", KAT_VECTORS)
def test_randomgen_passes_kat(counter, key, expected):
    stream, block, sub = _counter_args(counter)
    got = randomgen_words(key[1] << 32 | key[0], stream, block, 4, sub)
    assert [int(x) for x in got] == list(expected)


@pytest.mark.parametrize("counter,key,expected", KAT_VECTORS)
def test_core_random_raw_kat(counter, key, expected, simd_levels):
    """All three vectors through the private core, at every SIMD level and every phase."""
    seed = key[1] << 32 | key[0]
    stream, block, sub = _counter_args(counter)
    for level in simd_levels:
        fastinit.set_simd_level(level)
        out = np.zeros(4, np.uint32)
        _core.random_raw(out, seed, stream, block, 0, sub)
        assert [hex(x) for x in out] == [hex(x) for x in expected], (level, seed)
        for phase in range(1, 4):
            out = np.zeros(4 - phase, np.uint32)
            _core.random_raw(out, seed, stream, block, phase, sub)
            assert list(out) == list(expected[phase:]), (level, phase)


def test_public_random_raw_kat():
    """The public API expresses the vectors whose counter word 3 has no sub-stream tag."""
    expressible = [(c, k, e) for c, k, e in KAT_VECTORS if c[3] >> 16 == 0]
    assert expressible, "at least the all-zero vector is expressible"
    for counter, key, expected in expressible:
        seed = key[1] << 32 | key[0]
        stream = counter[3] << 32 | counter[2]
        offset = 4 * (counter[1] << 32 | counter[0])
        out = fastinit.random_raw_(np.zeros(4, np.uint32), seed, stream, offset)
        assert list(out) == list(expected)


def test_public_random_raw_reaches_kat_blocks_without_tag():
    """KAT 2 and 3 with the tag cleared are still checked: the public API vs the reference."""
    for counter, key, _ in KAT_VECTORS:
        seed = key[1] << 32 | key[0]
        stream = (counter[3] << 32 | counter[2]) & STREAM_MASK
        block = counter[1] << 32 | counter[0]
        out = fastinit.random_raw_(np.zeros(4, np.uint32), seed, stream, 4 * block)
        ref = reference_words(seed, stream, 4 * block, 4)
        assert_same_bytes(out, ref, seed)


# ---- cross-check against randomgen -----------------------------------------------------------
def test_random_raw_matches_randomgen_many_keys_and_counters(simd_levels):
    rng = np.random.default_rng(20240611)
    cases = [(0, 0, 0), (1, 0, 0), (2**64 - 1, STREAM_MASK, 2**64 - 38),
             (0x123456789ABCDEF0, 2**32 - 1, 2**32 - 3), (0xDEADBEEF, 2**32, 0)]
    for _ in range(60):
        seed = int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2))
        stream = int(rng.integers(0, 2**48))
        block = int(rng.integers(0, 2**64 - 64, dtype=np.uint64))
        cases.append((seed, stream, block))
    for level in simd_levels:
        fastinit.set_simd_level(level)
        for seed, stream, block in cases:
            n = 4 * 37 + 4  # a few SIMD groups plus a tail
            got = fastinit.random_raw_(np.empty(n, np.uint32), seed, stream, 4 * block)
            want = randomgen_words(seed, stream, block, n)
            assert_same_bytes(got, want, seed, f"{level} stream={stream} block={block}")


def test_random_raw_large_matches_randomgen():
    """A multi-task (threaded) raw fill: 1,000,003 words, odd length and odd offset."""
    seed, stream, offset = 0xC0FFEE, 7, 4 * 1000 + 3
    n = 1_000_003
    got = fastinit.random_raw_(np.empty(n, np.uint32), seed, stream, offset)
    want = randomgen_words(seed, stream, offset // 4, n + 4)[offset % 4: offset % 4 + n]
    assert_same_bytes(got, want, seed)


@pytest.mark.parametrize("offset", [0, 1, 2, 3, 5, 6, 7, 13, 64 + 3, 2**40 + 1])
@pytest.mark.parametrize("length", [0, 1, 2, 3, 5, 7, 9, 63, 65, 130, 1027])
def test_random_raw_offsets_and_lengths(offset, length):
    seed, stream = 0x5EED_0000_0000_0001, 3
    first = offset // 4
    pad = offset % 4
    want = randomgen_words(seed, stream, first, pad + length + 4)[pad: pad + length]
    got = fastinit.random_raw_(np.full(length, 0xAAAAAAAA, np.uint32), seed, stream, offset)
    assert_same_bytes(got, want, seed, f"offset={offset} length={length}")


def test_random_raw_is_a_window_of_one_stream(simd_levels):
    """Any window equals the same slice of a longer fill, at every SIMD level."""
    seed, stream = 99, 12345
    full = fastinit.random_raw_(np.empty(4096, np.uint32), seed, stream, 0)
    for level in simd_levels:
        fastinit.set_simd_level(level)
        for start in (0, 1, 2, 3, 17, 250, 1001):
            for length in (1, 3, 4, 31, 64, 333):
                got = fastinit.random_raw_(np.empty(length, np.uint32), seed, stream, start)
                assert_same_bytes(got, full[start:start + length], seed,
                                  f"{level} start={start} length={length}")


def test_private_core_phase_and_sub_stream_match_reference():
    rng = np.random.default_rng(7)
    for _ in range(20):
        seed = int(rng.integers(0, 2**63))
        stream = int(rng.integers(0, 2**48))
        block = int(rng.integers(0, 2**63))
        sub = int(rng.integers(0, 2**16))
        phase = int(rng.integers(0, 4))
        n = 11
        out = np.empty(n, np.uint32)
        _core.random_raw(out, seed, stream, block, phase, sub)
        want = reference_words(seed, stream, 4 * block + phase, n, sub)
        assert_same_bytes(out, want, seed, f"stream={stream} block={block} sub={sub}")
        assert_same_bytes(out, randomgen_words(seed, stream, block, n + 4, sub)[phase:phase + n],
                          seed)


# ---- the block index carries from counter word 0 into word 1 ---------------------------------
@pytest.mark.parametrize("boundary", [2**32, 2**33, 5 * 2**32, 2**63, 0xFFFFFFFF_00000000])
def test_block_carry_low_to_high_word(boundary, simd_levels):
    """Words around block 2**32 (offset 4 * 2**32): the carry into counter word 1.

    Starting at every phase and SIMD-group alignment so that a lane group straddles the wrap.
    """
    seed, stream = 0x0123456789ABCDEF, 0xABCDEF
    span = 200
    first_word = 4 * boundary - span // 2
    ref = reference_words(seed, stream, first_word, span)
    rg = randomgen_words(seed, stream, first_word // 4, span)
    assert_same_bytes(ref, rg, seed, "reference vs randomgen")
    for level in simd_levels:
        fastinit.set_simd_level(level)
        for shift in (0, 1, 2, 3, 4, 5, 21, 37, 64):
            got = fastinit.random_raw_(np.empty(span - shift, np.uint32), seed, stream,
                                       first_word + shift)
            assert_same_bytes(got, ref[shift:], seed, f"{level} boundary={boundary} shift={shift}")


def test_block_index_wraps_at_2_64():
    """docs: the block index wraps at 2**64 (the private core; the public API stops there)."""
    seed, stream = 5, 6
    out = np.empty(12, np.uint32)
    _core.random_raw(out, seed, stream, 2**64 - 2, 0, 0)
    want = np.concatenate([reference_words(seed, stream, 4 * (2**64 - 2), 8),
                           reference_words(seed, stream, 0, 4)])
    assert_same_bytes(out, want, seed)


def test_public_random_raw_reaches_last_word():
    last = 2**66 - 4
    out = fastinit.random_raw_(np.empty(4, np.uint32), 1, 2, last)
    assert_same_bytes(out, reference_words(1, 2, last, 4), 1)
    with pytest.raises(ValueError, match="2\\*\\*66"):
        fastinit.random_raw_(np.empty(5, np.uint32), 1, 2, last)


def test_streams_and_keys_are_distinct():
    base = fastinit.random_raw_(np.empty(64, np.uint32), 1, 0)
    assert not np.array_equal(base, fastinit.random_raw_(np.empty(64, np.uint32), 1, 1))
    assert not np.array_equal(base, fastinit.random_raw_(np.empty(64, np.uint32), 2, 0))
    assert not np.array_equal(base, fastinit.random_raw_(np.empty(64, np.uint32), 1 << 32, 0))


def test_random_raw_argument_errors():
    out = np.zeros(8, np.uint32)
    with pytest.raises(TypeError, match="out"):
        fastinit.random_raw_([0] * 8, 1)
    with pytest.raises(TypeError, match="uint32"):
        fastinit.random_raw_(np.zeros(8, np.int32), 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        fastinit.random_raw_(np.zeros(16, np.uint32)[::2], 1)
    ro = np.zeros(8, np.uint32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fastinit.random_raw_(ro, 1)
    with pytest.raises(ValueError, match="stream"):
        fastinit.random_raw_(out, 1, 2**48)
    with pytest.raises(ValueError, match="seed"):
        fastinit.random_raw_(out, 2**64)
    with pytest.raises(ValueError, match="seed"):
        fastinit.random_raw_(out, -1)
    with pytest.raises(TypeError, match="seed"):
        fastinit.random_raw_(out, 1.5)
    with pytest.raises(ValueError, match="offset"):
        fastinit.random_raw_(out, 1, 0, -1)
    assert not out.any(), "a rejected call wrote into out"
    with pytest.raises(ValueError):
        _core.random_raw(out, 1, 0, 0, 4, 0)  # phase must be < 4
    with pytest.raises(ValueError):
        _core.random_raw(out, 1, 0, 0, 0, 1 << 16)  # sub_stream must be < 2**16
    with pytest.raises(ValueError):
        _core.random_raw(out, 1, 2**48, 0, 0, 0)
    assert not out.any()
