"""Russian written in Latin letters ("zapishite menya na zavtra", "skol'ko stoit chistka"):
told apart from English, and written in Cyrillic for matching (docs/rules.md).

Told by its words: common Russian words as leads spell them in Latin letters, and letter
groups English words rarely have (zh, kh, a closing -iy, -yy, -aya, -ogo, -uyu, ...). A message
is Russian when at least 40 % of its words say so. Measured by bench/translit.py on a labelled
set of such messages and on English ones (docs/understanding.md).
"""

from __future__ import annotations

import regex

from app.text import language_of

# Common Russian words in the spellings leads use. Left out: those English has too ("i",
# "a", "do", "to", "no", "net", "pro", "den", "eta", "hotel", "u" for "you", "adres" for a
# misspelt "address").
_RUSSIAN_WORD_LIST = """
    ya ne na kak chto shto chtoby mne menya vy vas vam vash vashi vashe nas nam nash est yest
    eto etot eti skolko skolka skol'ko mozhno mojno moshno kogda gde kuda pochemu zachem
    zdravstvuyte zdravstvuite zdrastvuyte zdrastvuite zdravstvujte privet privetik spasibo
    spasibki pozhaluysta pozhaluista pojaluista pojalujsta pozhalujsta khochu hochu hotela
    nuzhno nujno nado nuzhen nuzhna segodnya sevodnya zavtra seychas sejchas sechas tozhe
    toje uzhe uje eshche esche eshe ili ochen tolko vse vsyo vsem vsego kto tut zdes tam vot
    nu moy moi moya moe moyo zakaz zakaza zakazat zapisat zapishite zapisatsya dostavka
    dostavku dostavki tsena tsenu cena cenu tseny ceny stoit stoimost rabotaete rabotayete
    rabotaesh oplata oplatit oplatu kartoy kartoi karta den'gi dengi vremya chasov zub zuba
    zube zubov chistka chistku podskazhite podskajite skazhite skajite perezvonite pozvonite
    dobryy dobryi dobriy dobry dobroe dobrogo vecher utro utrom vecherom kakoy kakoi
    kakaya kakie kakih mozhete mojete mozhet mojet budet byl bylo byla li bolshoe ogromnoe
    prishlo prishel prishla poluchil poluchila vernut vozvrat tovar tovara razmer razmery
    nalichii nalichie skidki skidka rassrochka chek schet shchet udobno pogovorit operatorom
    cheloveka konsultatsiya konsultaciya slishkom dolgo zhdu jdu otveta dorogo deshevle
    uznat priyti prijti priehat priekhat otkryty otkryto zakryto subbotu voskresenye po
    delaete delayete detyam detey detei rebenku cenam tsenam dela delo
"""
RUSSIAN_WORDS = frozenset(_RUSSIAN_WORD_LIST.split())
# Letter groups of Russian words in Latin letters that English words rarely have.
_RUSSIAN_SHAPE = regex.compile(
    r"zh|kh|shch|yu|[^aeiou]ya$|iy$|yy$|aya$|ogo$|uyu$|yut$|yat$|ykh$|ikh$|sya$|tsya$"
)
_LATIN_WORD = regex.compile(r"[a-z']+")
_CYRILLIC = regex.compile(r"[а-яё]")
SHARE = 0.4

# Latin letter groups and their Cyrillic letters, longest first.
_GROUPS = (
    ("shch", "щ"), ("sch", "щ"), ("tsya", "ться"), ("zh", "ж"), ("kh", "х"), ("ch", "ч"),
    ("sh", "ш"), ("ts", "ц"), ("yu", "ю"), ("ya", "я"), ("yo", "ё"), ("ye", "е"), ("ju", "ю"),
    ("ja", "я"), ("a", "а"), ("b", "б"), ("v", "в"), ("w", "в"), ("g", "г"), ("d", "д"),
    ("e", "е"), ("z", "з"), ("i", "и"), ("j", "й"), ("k", "к"), ("l", "л"), ("m", "м"),
    ("n", "н"), ("o", "о"), ("p", "п"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"),
    ("f", "ф"), ("h", "х"), ("c", "ц"), ("x", "кс"), ("q", "к"), ("'", "ь"),
)  # fmt: skip
_GROUP = regex.compile("|".join(regex.escape(latin) for latin, _ in _GROUPS) + "|y")
_CYRILLIC_OF = dict(_GROUPS)
_VOWELS = frozenset("aeiouy")


def is_russian_in_latin(folded: str) -> bool:
    """Whether a case-folded message with Latin letters and no Cyrillic ones is Russian."""
    if _CYRILLIC.search(folded):
        return False
    words = _LATIN_WORD.findall(folded)
    if not words:
        return False
    russian = sum(word in RUSSIAN_WORDS or bool(_RUSSIAN_SHAPE.search(word)) for word in words)
    return russian >= SHARE * len(words)


def to_cyrillic(folded: str) -> str:
    """The message with its Latin words written in Cyrillic ("zapishite menya" → "запишите
    меня"); digits, marks and spaces stay."""
    return _LATIN_WORD.sub(lambda word: _word_in_cyrillic(word.group()), folded)


def _word_in_cyrillic(word: str) -> str:
    letters = []
    for found in _GROUP.finditer(word):
        group = found.group()
        if group == "y":  # after a vowel a short и, else ы: "moy" мой, "dobryy" добрый
            before = word[found.start() - 1] if found.start() else ""
            letters.append("й" if before in _VOWELS else "ы")
        elif group == "e" and found.start() == 0:
            letters.append("э")  # "eto" это
        else:
            letters.append(_CYRILLIC_OF[group])
    return "".join(letters)


def language_told(folded: str) -> str | None:
    """A folded text's language by its letters (app.text.language_of), Russian written in Latin
    letters told Russian."""
    return "ru" if is_russian_in_latin(folded) else language_of(folded)
