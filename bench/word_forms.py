"""Stems (Snowball, through PyStemmer: what matching uses) against lemmas (pymorphy3) on word
pairs written for the project: forms a phrase should match, and different words it should not.

    .venv/bin/python bench/word_forms.py
    # lemmas too: pymorphy3 is no dependency of the service; in a venv of its own:
    python3 -m venv /tmp/lemmas && /tmp/lemmas/bin/pip install . pymorphy3
    /tmp/lemmas/bin/python bench/word_forms.py

Results are in docs/understanding.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.rules.model import compile_phrase
from app.text import stem

# (the word in a phrase, a word in a lead's message)
SAME = [
    ("живой", "живого"),
    ("человек", "человека"),
    ("человек", "человеком"),
    ("разбит", "разбитый"),
    ("разбит", "разбита"),
    ("поврежден", "повреждена"),
    ("доставка", "доставкой"),
    ("доставка", "доставку"),
    ("доставка", "доставки"),
    ("курьер", "курьером"),
    ("оператор", "оператором"),
    ("оператор", "оператора"),
    ("чайник", "чайники"),
    ("чайник", "чайников"),
    ("пуэр", "пуэры"),
    ("скидка", "скидки"),
    ("заказ", "заказа"),
    ("заказ", "заказом"),
    ("цена", "цены"),
    ("цена", "ценой"),
    ("менеджер", "менеджера"),
    ("треснул", "треснула"),
    ("оптовые", "оптовых"),
    ("бесплатная", "бесплатную"),
    ("подарочный", "подарочного"),
    ("карта", "картой"),
    ("order", "orders"),
    ("order", "ordered"),
    ("order", "ordering"),
    ("teapot", "teapots"),
    ("discount", "discounts"),
    ("ship", "shipped"),
    ("ship", "shipping"),
    ("break", "breaks"),
    ("damaged", "damage"),
    ("refund", "refunds"),
    ("refund", "refunded"),
    ("card", "cards"),
    ("price", "prices"),
    ("person", "persons"),
    ("deliver", "delivered"),
    ("delivery", "deliveries"),
    ("cracked", "crack"),
    ("operator", "operators"),
]
DIFFERENT = [
    ("чай", "чайник"),
    ("опт", "оптика"),
    ("вес", "весь"),
    ("вода", "водитель"),
    ("пол", "поле"),
    ("новый", "новость"),
    ("карта", "картон"),
    ("цена", "ценный"),
    ("заказ", "заказчик"),
    ("доставка", "доставщик"),
    ("order", "orderly"),
    ("card", "cardigan"),
    ("ship", "shipment"),
    ("news", "new"),
    ("general", "generous"),
    ("price", "priceless"),
    ("port", "portal"),
    ("part", "party"),
    ("sale", "salt"),
    ("human", "humane"),
]


def scores(name: str, reduce, same_word=None) -> None:
    same_word = same_word or (lambda a, b: reduce(a) == reduce(b))
    same = sum(same_word(a, b) for a, b in SAME)
    merged = sum(same_word(a, b) for a, b in DIFFERENT)
    words = [w for pair in SAME + DIFFERENT for w in pair] * 50
    started = time.perf_counter()
    for word in words:
        reduce(word)
    per_word = (time.perf_counter() - started) / len(words) * 1e6
    print(
        f"{name:30} forms matched {same}/{len(SAME)}   different words merged "
        f"{merged}/{len(DIFFERENT)}   {per_word:.1f} µs a word"
    )
    missed = [f"{a}/{b}" for a, b in SAME if not same_word(a, b)]
    wrongly = [f"{a}/{b}" for a, b in DIFFERENT if same_word(a, b)]
    print(f"{'':30} not matched: {', '.join(missed) or '-'}; merged: {', '.join(wrongly) or '-'}")


def as_matching_does(phrase_word: str, message_word: str) -> bool:
    """What matching does (app/rules/model.py, Phrase.word_matches)."""
    phrase = compile_phrase(phrase_word, 0)
    return phrase.word_matches(0, message_word, stem(message_word))


def main() -> None:
    scores("Snowball stems", stem)
    scores("stems, or the word as stem", stem, as_matching_does)
    try:
        import pymorphy3
    except ImportError:
        print("lemmas: pymorphy3 is not installed here (see the docstring)")
        return
    analyzer = pymorphy3.MorphAnalyzer()

    def lemma(word: str) -> str:
        if any("\u0400" <= ch <= "\u04ff" for ch in word):
            return analyzer.parse(word)[0].normal_form
        return stem(word)  # pymorphy3 knows Russian only: English keeps its stem

    scores("lemmas (pymorphy3) + en stems", lemma)


if __name__ == "__main__":
    main()
