"""Meaning vectors of many texts at once, for grouping them by matrix products."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from app.similarity.measure import (
    EMBEDDING_WEIGHT,
    LONGEST,
    SHORTEST,
    embeddings,
    inverse_document_frequency,
    words_of,
)
from app.text import language_of

# Meaning vectors for grouping: the n-gram side hashed into this many signed buckets.
GRAM_BUCKETS = 256
# Texts embedded together per step (bounds the memory of the token vectors gathered).
_BATCH = 250
# A question's start says what it is about: grouping reads at most this much of each text and
# embeds at most this many of its tokens (a letter of an unusual script is several byte
# tokens), so the work and memory per text are bounded whatever leads send.
GROUPED_CHARS = 300
GROUPED_TOKENS = 128


def meaning_vectors(folded_texts: Sequence[str]) -> np.ndarray:
    """One unit vector per text whose dot product with another's is close to the similarity
    above (the two signals weighed equally), for grouping many texts by matrix products: the
    n-grams' TF-IDF hashed into signed buckets, beside the embedding less its language's mean
    (over these texts and built-in reference questions: it plays the part of the
    per-language baseline)."""
    if not folded_texts:
        return np.zeros((0, GRAM_BUCKETS + embeddings().table.shape[1]), dtype=np.float32)
    texts = [" ".join(words_of(text[:GROUPED_CHARS])) for text in folded_texts]
    by_grams = _hashed_grams(texts)
    by_meaning = _centred_embeddings(texts)
    joined = np.hstack(
        [by_grams * math.sqrt(1 - EMBEDDING_WEIGHT), by_meaning * math.sqrt(EMBEDDING_WEIGHT)]
    )
    return joined.astype(np.float32)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def gram_codes(texts: list[str], short_words: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The n-grams `grams` cuts from each text (its words joined by single spaces), as codes:
    all texts at once with array operations, each n-gram once per text. Returns the codes
    and, for each, its text's index. `code_of` gives a string's code. `short_words` False
    leaves out the n-grams that are a whole word of one to three letters (" to ")."""
    padded = "".join(f"  {text}  " for text in texts)
    chars = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    owner = np.repeat(np.arange(len(texts)), [len(text) + 4 for text in texts])
    # Texts apart by four spaces, words by one. An n-gram inside one word may have a space
    # first, last or both (" ab ", a whole short word, as `grams` pads it); one with a space
    # inside spans two words (or texts), and two spaces alone are no n-gram: left out below.
    spaces = chars == ord(" ")
    codes, owners = [], []
    code = np.zeros(len(chars), dtype=np.uint64)
    for size in range(1, LONGEST + 1):
        count = len(chars) - size + 1
        code = code[:count] * np.uint64(1_000_003) + chars[size - 1 : size - 1 + count]
        if size < SHORTEST:
            continue
        inside = np.zeros(count, dtype=bool)
        for offset in range(1, size - 1):
            inside |= spaces[offset : offset + count]
        # Both ends spaces: two spaces alone (never an n-gram), or a whole short word.
        blank = spaces[:count] & spaces[size - 1 : size - 1 + count]
        if size > 2 and short_words:
            blank = np.zeros(count, dtype=bool)
        keep = ~inside & ~blank & (owner[:count] == owner[size - 1 : size - 1 + count])
        codes.append(code[keep] * np.uint64(8) + np.uint64(size))
        owners.append(owner[:count][keep])
    every, text_of = np.concatenate(codes), np.concatenate(owners).astype(np.uint64)
    # Each n-gram once per text. One 64-bit key per pair: the text in the low 24 bits, 40 bits
    # of the n-gram's code above.
    pairs = np.unique((every << np.uint64(24)) | text_of)
    return pairs >> np.uint64(24), (pairs & np.uint64(0xFFFFFF)).astype(np.int64)


def code_of(gram: str) -> int:
    """The code `gram_codes` gives an n-gram (its 40 bits kept there)."""
    value = 0
    for char in gram:
        value = (value * 1_000_003 + ord(char)) % 2**64
    return ((value * 8 + len(gram)) % 2**64) & (2**40 - 1)


def _hashed_grams(texts: list[str]) -> np.ndarray:
    """Each text's n-grams weighted by their IDF over these texts (each once per text: a short
    question repeats few), summed into signed buckets. Whole words of one to three letters
    ("to", "uk", "да") are left out: they say little about what a question is about, and the
    grouping's figures (docs/grouping.md) were measured without them."""
    codes_of, owners_of = gram_codes(texts, short_words=False)
    # Sorted by n-gram, so each n-gram's texts stand together (sorting beats hashing here).
    first = np.concatenate([[True], codes_of[1:] != codes_of[:-1]])
    grams, where = codes_of[first], np.cumsum(first) - 1
    frequency = np.diff(np.append(np.flatnonzero(first), len(codes_of)))
    idf = inverse_document_frequency(frequency, len(texts))
    bucket = (grams * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(55)  # 9 bits
    sign = np.where(bucket & np.uint64(1), 1.0, -1.0)
    slot = owners_of * GRAM_BUCKETS + (bucket >> np.uint64(1)).astype(np.int64)[where]
    summed = np.bincount(slot, (sign * idf)[where], minlength=len(texts) * GRAM_BUCKETS)
    return _unit_rows(summed.reshape(len(texts), GRAM_BUCKETS))


def _centred_embeddings(texts: list[str]) -> np.ndarray:
    model = embeddings()
    table = model.table
    found = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
    for begin in range(0, len(texts), _BATCH):
        chunk = texts[begin : begin + _BATCH]
        ids = [
            encoding.ids[:GROUPED_TOKENS]
            for encoding in model.tokenizer.encode_batch(chunk, add_special_tokens=False)
        ]
        lengths = np.array([len(i) for i in ids])
        flat = np.minimum(
            np.fromiter((t for i in ids for t in i), np.int64, lengths.sum()), len(table) - 1
        )
        if not len(flat):
            continue
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        # The chunk's own tokens first: a small table the sums then read from the cache.
        tokens, position = np.unique(flat, return_inverse=True)
        sums = np.add.reduceat(table[tokens][position], np.minimum(starts, len(flat) - 1), axis=0)
        sums[lengths == 0] = 0
        found[begin : begin + len(chunk)] = sums
    found = _unit_rows(found)
    languages = np.array([language_of(text) or "" for text in texts])
    for language in set(languages.tolist()):
        rows = languages == language
        reference = _reference_sum(language)
        found[rows] -= (found[rows].sum(axis=0) + reference[0]) / (rows.sum() + reference[1])
    return _unit_rows(found)


# Questions to every kind of business, of no topic in common: the mean of their embeddings,
# with the texts grouped, is what the embeddings of unrelated questions share (in a small
# batch the batch's own mean would take out what its few questions do share).
_REFERENCE = {
    "ru": (
        "сколько стоит доставка в москву",
        "как вернуть товар",
        "можно оплатить картой",
        "где мой заказ",
        "есть ли скидка для студентов",
        "как записаться на прием",
        "не могу войти в личный кабинет",
        "какой размер выбрать",
        "вы работаете в выходные",
        "есть ли у вас парковка",
        "как отменить подписку",
        "когда начинается курс",
        "можно ли с собакой",
        "сколько длится гарантия",
        "есть ли в наличии",
        "как связаться с менеджером",
        "пришел бракованный товар",
        "как изменить заказ",
        "есть ли самовывоз",
        "какие у вас цены",
    ),
    "en": (
        "how much is shipping to london",
        "how do i return an item",
        "can i pay by card",
        "where is my order",
        "is there a student discount",
        "how do i book an appointment",
        "i cannot log in to my account",
        "which size should i choose",
        "are you open on weekends",
        "do you have parking",
        "how do i cancel my subscription",
        "when does the course start",
        "can i bring my dog",
        "how long is the warranty",
        "is this in stock",
        "how can i talk to a manager",
        "my item arrived broken",
        "how do i change my order",
        "can i pick it up myself",
        "what are your prices",
    ),
}


@functools.cache
def _reference_sum(language: str) -> tuple[np.ndarray, int]:
    """The sum of the reference questions' unit embeddings in `language`, and their count."""
    texts = _REFERENCE.get(language, ())
    if not texts:
        return np.zeros(embeddings().table.shape[1], dtype=np.float32), 0
    return embeddings().vectors(texts).sum(axis=0), len(texts)
