"""How close two short texts are in meaning, on one 0-1 scale in Russian and English.

Two signals, averaged (measured in bench/meaning.py, docs/understanding.md):
- character n-grams (2-5 letters within words, TF-IDF weighted): they see word forms, typos
  and shared roots in any language;
- WordLlama's static word embeddings (the model its PyPI wheel ships, loaded from the files by
  their paths, never downloaded): they see paraphrases ("wheres my package" / "has my order
  shipped"), strongest in English.
Each embedding similarity is rescaled by its language's baseline (how close unrelated questions
already are: 0.49 in Russian, whose words the tokenizer cuts into short pieces, 0.04 in
English), so that 0 means "as close as unrelated questions" in both languages.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.text import language_of

# Before `tokenizers` is imported: its thread pool is not fork-safe, and the model is loaded
# in gunicorn's master before the workers fork. Encoding one text at a time needs no pool.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from safetensors.numpy import load_file
from tokenizers import Tokenizer

# Character n-grams of 2 to 5 letters.
SHORTEST, LONGEST = 2, 5
_WORD = re.compile(r"[^\W_]+")
# N-grams in at least this many of the fitted texts (and this share) are kept densely.
_COMMON_TEXTS, _COMMON_SHARE = 64, 1 / 8
# Similarity reads at most this much of a text: a question is short, and the cost follows it.
MAX_CHARS = 1000
EMBEDDING_WEIGHT = 0.5
# How close unrelated questions are by the embeddings alone, per language (the median over
# pairs of questions to different businesses in bench/meaning's tuning files).
EMBEDDING_BASELINE = {"ru": 0.49, "en": 0.04}
_WEIGHTS = Path("weights") / "l2_supercat_256.safetensors"
_TOKENIZER = Path("tokenizers") / "l2_supercat_tokenizer_config.json"


def words_of(folded: str) -> list[str]:
    """The words of a case-folded text (letters and digits)."""
    return _WORD.findall(folded[:MAX_CHARS])


def grams(folded: str) -> Counter[str]:
    """Character n-grams of each word with a space either side (so a word's start and end
    count), over a case-folded text."""
    found: list[str] = []
    for word in words_of(folded):
        padded = f" {word} "
        end = len(padded)
        found += [
            padded[i:j]
            for i in range(end - 1)
            for j in range(i + SHORTEST, min(i + LONGEST, end) + 1)
        ]
    return Counter(found)


def inverse_document_frequency(frequency: np.ndarray, texts: int) -> np.ndarray:
    """Each n-gram's IDF among `texts` texts, `frequency` of which have it (smoothed: an
    n-gram in every text still weighs 1, one in none the most). Matching and grouping both
    weigh n-grams by it."""
    return np.log((1 + texts) / (1 + frequency)) + 1


@dataclass(frozen=True)
class CharGrams:
    """TF-IDF over character n-grams, fitted on a set of texts. A new text meets only the
    texts sharing its n-grams: each common n-gram's weights are a row of one array, a rare
    one's a short list. (Few array operations, not few multiplications, keep it fast: each
    costs microseconds however small.)"""

    vocabulary: dict[str, int] = field(repr=False)  # n-gram -> its column
    idf: np.ndarray = field(repr=False)
    unseen_idf: float
    dense_row: np.ndarray = field(repr=False)  # per column: its row in `dense`, or -1
    dense: np.ndarray = field(repr=False)  # common n-gram x text
    starts: np.ndarray = field(repr=False)  # per column: where its rare texts begin in `rows`
    rows: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    size: int

    @classmethod
    def fit(cls, folded_texts: Sequence[str]) -> CharGrams:
        per_text = [grams(text) for text in folded_texts]
        frequency: Counter[str] = Counter(gram for counts in per_text for gram in counts)
        vocabulary = {gram: column for column, gram in enumerate(frequency)}
        n = len(folded_texts)
        df = np.fromiter(frequency.values(), float, len(frequency))
        idf = inverse_document_frequency(df, n)
        columns, rows, weights = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
        for row, counts in enumerate(per_text):
            text_columns = np.fromiter(map(vocabulary.__getitem__, counts), np.int64, len(counts))
            tf = 1 + np.log(np.fromiter(counts.values(), float, len(counts)))
            values = tf * idf[text_columns]
            columns.append(text_columns)
            rows.append(np.full(len(text_columns), row))
            weights.append(values / (np.linalg.norm(values) or 1.0))
        column_of, row_of, weight_of = map(np.concatenate, (columns, rows, weights))
        common = df >= max(_COMMON_TEXTS, math.ceil(n * _COMMON_SHARE))
        dense_row = np.where(common, np.cumsum(common) - 1, -1)
        dense = np.zeros((int(common.sum()), n), dtype=np.float32)
        in_dense = common[column_of]
        dense[dense_row[column_of[in_dense]], row_of[in_dense]] = weight_of[in_dense]
        # The rare n-grams' texts, column by column (a stable sort keeps texts in order).
        rare = np.flatnonzero(~in_dense)
        rare = rare[np.argsort(column_of[rare], kind="stable")]
        return cls(
            vocabulary=vocabulary,
            idf=idf,
            unseen_idf=float(inverse_document_frequency(np.zeros(1), n)[0]),
            dense_row=dense_row,
            dense=dense,
            starts=np.searchsorted(column_of[rare], np.arange(len(vocabulary) + 1)),
            rows=row_of[rare],
            weights=weight_of[rare],
            size=n,
        )

    def among(self, folded_texts: Sequence[str]) -> np.ndarray:
        """`similarities` of each of the fitted texts (given again), as rows."""
        found = np.empty((len(folded_texts), self.size), dtype=np.float32)
        for row, text in enumerate(folded_texts):  # row by row: no list of rows beside it
            found[row] = self.similarities(text)
        return found

    def similarities(self, folded: str) -> np.ndarray:
        """Cosine similarity of a text to each fitted text. N-grams the fitted texts never
        have still count in the text's own length: a question in words the examples never
        use is far from them."""
        counts = grams(folded)
        vocabulary = self.vocabulary
        columns = np.fromiter((vocabulary.get(g, -1) for g in counts), np.int64, len(counts))
        tf = 1 + np.log(np.fromiter(counts.values(), float, len(counts)))
        known = columns >= 0
        if not known.any():
            return np.zeros(self.size)
        columns, unseen = columns[known], tf[~known] * self.unseen_idf
        values = tf[known] * self.idf[columns]
        values /= math.sqrt(values @ values + unseen @ unseen)
        rows = self.dense_row[columns]
        common = rows >= 0
        found = values[common].astype(np.float32) @ self.dense[rows[common]]
        columns, values = columns[~common], values[~common]
        begins = self.starts[columns]
        lengths = self.starts[columns + 1] - begins
        # Where each rare n-gram's texts lie in `rows`, all in one array.
        positions = np.repeat(begins - np.cumsum(lengths) + lengths, lengths) + np.arange(
            lengths.sum()
        )
        rare = self.weights[positions] * np.repeat(values, lengths)
        return found + np.bincount(self.rows[positions], rare, minlength=self.size)


@dataclass(frozen=True)
class Embeddings:
    """WordLlama's static embeddings: a text's vector is the mean of its tokens' vectors."""

    table: np.ndarray = field(repr=False)  # one row per token
    tokenizer: Any = field(repr=False)

    def vector(self, text: str) -> np.ndarray:
        ids = self.tokenizer.encode(text[:MAX_CHARS], add_special_tokens=False).ids
        if not ids:
            return np.zeros(self.table.shape[1], dtype=np.float32)
        total = self.table[np.minimum(ids, len(self.table) - 1)].sum(axis=0)
        return total / (math.sqrt(total @ total) or 1.0)

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.table.shape[1]), dtype=np.float32)
        return np.stack([self.vector(text) for text in texts])


def model_folder() -> Path:
    """Where the installed wordllama package keeps its files (found without importing it:
    its import pulls in a downloader this service never uses)."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the wordllama package is not installed (see pyproject.toml)")
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def embeddings() -> Embeddings:
    """The model, loaded once per process (before gunicorn forks, so workers share it)."""
    folder = model_folder()
    # float32: summing half floats costs a conversion on every message (16 MB more, shared).
    table = load_file(str(folder / _WEIGHTS))["embedding.weight"].astype(np.float32)
    tokenizer = Tokenizer.from_file(str(folder / _TOKENIZER))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return Embeddings(table, tokenizer)


def baseline_of(language: str | None) -> float:
    """How close unrelated questions in `language` are by the embeddings alone."""
    return EMBEDDING_BASELINE.get(language or "en", EMBEDDING_BASELINE["en"])


@dataclass(frozen=True)
class Similarity:
    """The fused similarity of any text to each of a fixed set of texts."""

    texts: tuple[str, ...]
    char_grams: CharGrams = field(repr=False)
    vectors: np.ndarray = field(repr=False)

    @classmethod
    def fit(cls, folded_texts: Sequence[str]) -> Similarity:
        model = embeddings()
        return cls(tuple(folded_texts), CharGrams.fit(folded_texts), model.vectors(folded_texts))

    def to_each(self, folded: str) -> np.ndarray:
        """How close `folded` (a case-folded text) is to each of the texts, 0-1."""
        baseline = baseline_of(language_of(folded))
        return self._fused(
            self.char_grams.similarities(folded),
            self.vectors @ embeddings().vector(folded),
            np.float32(baseline),
        )

    def among(self) -> np.ndarray:
        """Each text's similarity to each other (row: the text compared), as `to_each` would
        give it, in a few matrix products."""
        baselines = np.array([baseline_of(language_of(t)) for t in self.texts], np.float32)
        return self._fused(
            self.char_grams.among(self.texts), self.vectors @ self.vectors.T, baselines[:, None]
        )

    @staticmethod
    def _fused(by_grams: np.ndarray, by_meaning: np.ndarray, baseline: Any) -> np.ndarray:
        """The two signals on one scale: the embeddings' less their language's baseline
        (rescaled to 0-1), averaged with the n-grams'. Arrays are reused in place: each step
        on a small array costs more than its arithmetic."""
        by_meaning -= baseline
        by_meaning *= EMBEDDING_WEIGHT / (1 - baseline)
        np.clip(by_meaning, 0.0, EMBEDDING_WEIGHT, out=by_meaning)
        by_grams *= 1 - EMBEDDING_WEIGHT
        by_grams += by_meaning
        return by_grams
