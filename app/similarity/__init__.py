"""How close texts are in meaning (`measure`: one text against a fixed set, for `examples`)
and meaning vectors of many texts at once (`batch`: for grouping)."""

from app.similarity.batch import meaning_vectors
from app.similarity.measure import (
    EMBEDDING_WEIGHT,
    CharGrams,
    Embeddings,
    Similarity,
    embeddings,
    grams,
    model_folder,
    words_of,
)

__all__ = [
    "EMBEDDING_WEIGHT",
    "CharGrams",
    "Embeddings",
    "Similarity",
    "embeddings",
    "grams",
    "meaning_vectors",
    "model_folder",
    "words_of",
]
