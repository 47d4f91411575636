"""The random stream of SSJ-ASSIGN-2: SHA-256 counter blocks, 64-bit words, unbiased integers.

Its domain separator is still ``SSJ-ASSIGN-1``: the stream is unchanged since SSJ-ASSIGN-1 (only
the flow phase was specified anew), so draws that did not reach the flow phase are the same.

The byte-exact rule is in the docstring of :mod:`shuangsuiji.assign`; ``docs/teams.md`` gives the
order in which the draw consumes the words.
"""

from __future__ import annotations

import hashlib
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from shuangsuiji.errors import InvalidInputError

_DOMAIN = b"SSJ-ASSIGN-1\x00"
WORDS_PER_BLOCK = 4
_TWO64 = 1 << 64
_U64_MAX = np.uint64(_TWO64 - 1)
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
BytesArray: TypeAlias = npt.NDArray[np.bytes_]


def _blocks(key: bytes, first: int, count: int, domain: bytes = _DOMAIN) -> bytes:
    prefix = hashlib.sha256(key + domain)
    out = []
    for i in range(first, first + count):
        h = prefix.copy()
        h.update(i.to_bytes(8, "big"))
        out.append(h.digest())
    return b"".join(out)


class AssignStream:
    """The SSJ-ASSIGN-1 counter stream: 64-bit words from SHA-256 blocks of the draw key.

    ``block(i) = SHA-256(key || b"SSJ-ASSIGN-1" || 0x00 || u64be(i))``; each block gives four
    big-endian 64-bit words. :meth:`uniform` draws an integer in ``[0, n)`` without modulo bias.

    >>> s = AssignStream(bytes(32))
    >>> s.block(0) == hashlib.sha256(bytes(32) + b"SSJ-ASSIGN-1\\x00" + bytes(8)).digest()
    True
    >>> [s.uniform(6) for _ in range(5)]
    [2, 4, 4, 0, 5]
    >>> s.position, s.start_phase(), s.position
    (5, 2, 8)
    """

    def __init__(self, key: bytes, start_block: int = 0, *, domain: bytes = _DOMAIN) -> None:
        if not isinstance(key, bytes) or len(key) < 16:
            raise InvalidInputError(
                "the draw key must be bytes of at least 16 (normally 32) bytes, as made by "
                "shuangsuiji.draw.draw_key(task_label, seed)"
            )
        if start_block < 0:
            raise InvalidInputError(f"start_block must be >= 0, got {start_block}")
        self.key = key
        self.domain = domain  # SSJ-ASSIGN-CAP-1 draws use its own (shuangsuiji.assign.capped)
        self.position = start_block * WORDS_PER_BLOCK
        self._buf_start = 0
        self._buf: list[int] = []

    def block(self, i: int) -> bytes:
        """Block ``i`` of the stream (32 bytes)."""
        return _blocks(self.key, i, 1, self.domain)

    def words(self, start: int, count: int) -> npt.NDArray[np.uint64]:
        """Words ``start .. start + count - 1`` as an array (does not move the position)."""
        if count <= 0:
            return np.zeros(0, dtype=np.uint64)
        first = start // WORDS_PER_BLOCK
        last = (start + count - 1) // WORDS_PER_BLOCK
        raw = np.frombuffer(_blocks(self.key, first, last - first + 1, self.domain), dtype=">u8")
        off = start - first * WORDS_PER_BLOCK
        return raw[off : off + count].astype(np.uint64)

    def next_word(self) -> int:
        """The word at the current position, advancing it by one."""
        i = self.position - self._buf_start
        if not 0 <= i < len(self._buf):
            self._buf_start = self.position - self.position % WORDS_PER_BLOCK
            self._buf = self.words(self._buf_start, 256 * WORDS_PER_BLOCK).tolist()
            i = self.position - self._buf_start
        self.position += 1
        return int(self._buf[i])

    def uniform(self, n: int) -> int:
        """A uniform integer in ``[0, n)`` by rejection sampling (see the module docstring)."""
        if n < 1:
            raise InvalidInputError(f"uniform(n) needs n >= 1, got {n}")
        m = max(1, -(-(n - 1).bit_length() // 64))
        span = 1 << (64 * m)
        limit = span - span % n
        while True:
            x = 0
            for _ in range(m):
                x = (x << 64) | self.next_word()
            if x < limit:
                return x % n

    def start_phase(self) -> int:
        """Move to the start of the next unused block and return that block's counter."""
        block = -(-self.position // WORDS_PER_BLOCK)
        self.position = block * WORDS_PER_BLOCK
        return block

    @property
    def next_block(self) -> int:
        """The first block none of whose words has been used."""
        return -(-self.position // WORDS_PER_BLOCK)


def permutation(stream: AssignStream, n: int) -> IntArray:
    """Fisher-Yates from the stream: for j = n-1 .. 1 swap p[j] with p[uniform(j + 1)]."""
    p = list(range(n))
    for j in range(n - 1, 0, -1):
        r = stream.uniform(j + 1)
        p[j], p[r] = p[r], p[j]
    return np.asarray(p, dtype=np.int64)


def below_bounds(words: npt.NDArray[np.uint64], bounds: npt.NDArray[np.uint64]) -> BoolArray:
    """Vectorised acceptance test of ``uniform`` for bounds below 2**64 (one word each)."""
    rem = (np.uint64(0) - bounds) % bounds  # 2**64 mod n, in wrapping uint64 arithmetic
    return np.asarray(words <= _U64_MAX - rem)
