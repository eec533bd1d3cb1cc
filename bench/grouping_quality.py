"""How well unanswered questions are grouped, on the labelled set in bench/questions.py (600
questions, 40 intents, English and Russian): adjusted Rand index, the purity of the 20 largest
groups, and the share of questions in groups of three or more; for this project's grouping,
the one before it (5-letter prefixes, every message against every group) and a TF-IDF +
k-means baseline (k = the number of intents, fixed seed, pure Python).

    .venv/bin/python bench/grouping_quality.py [BANKING77 folder]

With BANKING77's folder (default ../shared/data/banking77 beside the project), its test split
too: 3,080 questions of 77 close intents.
"""

from __future__ import annotations

import csv
import math
import random
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.insight.grouping import STOPWORDS, group_questions, key_words  # noqa: E402
from app.rules.model import WORD  # noqa: E402
from app.text import fold, normalise, script_language  # noqa: E402
from bench.questions import labelled  # noqa: E402


def comb2(n: int) -> float:
    return n * (n - 1) / 2


def adjusted_rand(labels: Sequence[str], clusters: Sequence[int]) -> float:
    pairs = Counter(zip(labels, clusters, strict=True))
    index = sum(comb2(n) for n in pairs.values())
    rows = sum(comb2(n) for n in Counter(labels).values())
    columns = sum(comb2(n) for n in Counter(clusters).values())
    expected = rows * columns / comb2(len(labels))
    return (index - expected) / ((rows + columns) / 2 - expected)


def scores(labels: Sequence[str], clusters: Sequence[int]) -> tuple[float, float, float]:
    members: dict[int, list[str]] = {}
    for label, cluster in zip(labels, clusters, strict=True):
        members.setdefault(cluster, []).append(label)
    largest = sorted(members.values(), key=len, reverse=True)[:20]
    purity = sum(Counter(g).most_common(1)[0][1] for g in largest) / sum(map(len, largest))
    in_threes = sum(len(g) for g in members.values() if len(g) >= 3) / len(labels)
    return adjusted_rand(labels, clusters), purity, in_threes


def ours(texts: Sequence[str]) -> list[int]:
    where = {}
    for number, group in enumerate(group_questions(texts)):
        for text in group.texts:
            where.setdefault(text, number)
    return [where[text] for text in texts]


def before(texts: Sequence[str]) -> list[int]:
    """The grouping as it was before this round: 5-letter prefixes, Jaccard >= 0.5 against
    every group's common words."""
    signatures: list[Counter[str]] = []
    sizes: list[int] = []
    found = []
    for text in texts:
        signature = frozenset(w[:5] for w in key_words(text))
        best, best_score = None, 0.0
        for index, counts in enumerate(signatures):
            common = frozenset(s for s, n in counts.items() if n * 2 >= sizes[index])
            union = signature | common
            score = len(signature & common) / len(union) if signature and common else 0.0
            if score > best_score:
                best, best_score = index, score
        if best is not None and best_score >= 0.5:
            signatures[best].update(signature)
            sizes[best] += 1
        else:
            signatures.append(Counter(signature))
            sizes.append(1)
            best = len(sizes) - 1
        found.append(best)
    return found


def kmeans(texts: Sequence[str], k: int, seed: int = 7, rounds: int = 20) -> list[int]:
    """TF-IDF vectors (words, stopwords out), cosine k-means with k-means++ seeding."""
    docs = [
        Counter(w for w in WORD.findall(fold(normalise(t))) if w not in STOPWORDS) for t in texts
    ]
    df = Counter(w for d in docs for w in d)
    vectors = []
    for doc in docs:
        v = {w: n * math.log(len(docs) / df[w]) for w, n in doc.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vectors.append({w: x / norm for w, x in v.items()})

    def cosine(a: dict[str, float], b: dict[str, float]) -> float:
        return sum(x * b.get(w, 0.0) for w, x in a.items())

    rng = random.Random(seed)
    centres = [rng.choice(vectors)]
    while len(centres) < k:
        far = [1 - max(cosine(v, c) for c in centres) for v in vectors]
        centres.append(rng.choices(vectors, weights=[d * d + 1e-9 for d in far])[0])
    assigned = [0] * len(vectors)
    for _ in range(rounds):
        assigned = [max(range(k), key=lambda c, v=v: cosine(v, centres[c])) for v in vectors]
        for c in range(k):
            members = [vectors[i] for i, a in enumerate(assigned) if a == c]
            if members:
                total: Counter[str] = Counter()
                for m in members:
                    total.update(m)
                norm = math.sqrt(sum(x * x for x in total.values())) or 1.0
                centres[c] = {w: x / norm for w, x in total.items()}
    return assigned


def meaning_set() -> list[tuple[str, str]]:
    """The second set: bench/meaning's examples and held-out questions (660, 33 intents),
    written before this grouping and not used to tune it."""
    found = []
    for path in sorted((Path(__file__).parent / "meaning").glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for intent in data["intent"]:
            label = f"{path.stem}:{intent['id']}"
            found += [(text, label) for text in intent["examples"] + intent["held_out"]]
    return found


def table(name: str, pairs: list[tuple[str, str]], baselines: bool) -> None:
    rng = random.Random(1)
    rng.shuffle(pairs)  # the order leads write in, not the set's
    texts = [t for t, _ in pairs]
    labels = [label for _, label in pairs]
    intents = len(set(labels))
    designs: dict[str, Callable[[Sequence[str]], list[int]]] = {"this project": ours}
    if baselines:
        designs["before this round"] = before
        designs[f"TF-IDF + k-means (k={intents})"] = lambda t: kmeans(t, intents)
    print(f"{name}: {len(texts)} questions, {intents} intents")
    print(f"  {'design':<28} {'ARI':>6} {'top-20 purity':>14} {'in groups >= 3':>15} {'groups':>7}")
    for design_name, design in designs.items():
        clusters = design(texts)
        ari, purity, in_threes = scores(labels, clusters)
        print(
            f"  {design_name:<28} {ari:>6.3f} {purity:>14.0%} {in_threes:>15.0%} "
            f"{len(set(clusters)):>7}"
        )


def banking77_test(folder: Path) -> list[tuple[str, str]]:
    """BANKING77's test split (3,080 questions, 77 close intents of one bank), a public set."""
    with (folder / "test.csv").open(encoding="utf-8", newline="") as rows:
        return [(row["text"], row["category"]) for row in csv.DictReader(rows)]


def main() -> None:
    print(f"grouping quality, {time.strftime('%Y-%m-%d')}")
    own = labelled()
    table("bench/questions.py (tuned on)", own, baselines=True)
    russian = [(t, label) for t, label in own if script_language(t) == "ru"]
    table("bench/questions.py, Russian only", russian, baselines=False)
    kept_apart = meaning_set()
    table("bench/meaning (kept apart)", kept_apart, baselines=True)
    for language in ("ru", "en"):
        part = [(t, label) for t, label in kept_apart if label.startswith(language)]
        table(f"bench/meaning, {language} only", part, baselines=False)
    banking = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/data/banking77"
    if (banking / "test.csv").exists():
        table("BANKING77 test split", banking77_test(banking), baselines=False)
    else:
        print(f"BANKING77 not found at {banking}: give its folder as the first argument")


if __name__ == "__main__":
    main()
