"""What `examples` cost: loading 1,000 examples (100 rules of 10) in a fresh process, training
the decision included, the CPU time of matching a message, the memory a gunicorn worker adds
(the model is loaded before the fork and shared), and the size the new packages add to an
install. EXAMPLE_RULES sets the number of rules (150: 1,500 examples; 500: 5,000).

    .venv/bin/python bench/examples_cost.py
    BENCH_BEFORE=REV .venv/bin/python bench/examples_cost.py   and the project at REV, same run

With BENCH_BEFORE, the load, the reload (training included) and the CPU per message are
measured for the project at REV too, each in a fresh process, one design after the other: a
matching change priced against the code before it on the same machine in the same run (with
bench/service.py's BENCH_BEFORE for webhook throughput). A rule set over a revision's largest
supported example count is reported as refused.

The examples are bench/meaning's, each intent's ten repeated with a different closing word
until there are 100 rules; the messages are its held-out and unrelated questions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.service import export_revision  # noqa: E402

SETS = ROOT / "bench" / "meaning"
RULES = int(os.environ.get("EXAMPLE_RULES", "100"))
ENDINGS = ("", " please", " пожалуйста", " thanks", " спасибо")
PACKAGES = (
    "numpy",
    "numpy.libs",
    "tokenizers",
    "safetensors",
    "wordllama",
    "pydantic",
    "pydantic_core",
    "toml",
    "annotated_types",
    "typing_inspection",
)


def intents() -> list[dict]:
    found = []
    for path in sorted(SETS.glob("*.toml")):
        found.extend(tomllib.loads(path.read_text(encoding="utf-8"))["intent"])
    return found


def questions() -> list[str]:
    found = []
    for path in sorted(SETS.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        found += [q for intent in data["intent"] for q in intent["held_out"]]
        found += data["unrelated"]
    return found


def write_rules(folder: Path, kind: str) -> int:
    tables, examples = [], 0
    every = intents()
    for number in range(RULES):
        intent = every[number % len(every)]
        ending = ENDINGS[number // len(every) % len(ENDINGS)]
        table = f'[[rule]]\nid = "r{number}"\nanswer = "{intent["id"]}"\n'
        if kind == "examples":
            texts = [text + ending for text in intent["examples"]]
            examples += len(texts)
            table += f"examples = {json.dumps(texts, ensure_ascii=False)}\n"
        else:
            table += f"phrases = {json.dumps(intent['phrases'], ensure_ascii=False)}\n"
        tables.append(table)
    (folder / "rules.toml").write_text("\n".join(tables), encoding="utf-8")
    return examples


LOAD = """
import json, sys, time, resource
started, cpu = time.perf_counter(), time.process_time()
sys.path.insert(0, {root!r})
from app.rules import load_rules
rules = load_rules({folder!r})
print(time.perf_counter() - started, time.process_time() - cpu)
cpu, wall = time.process_time(), time.perf_counter()
load_rules({folder!r})
print(time.process_time() - cpu, time.perf_counter() - wall)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
texts = json.loads(sys.stdin.read())
for text in texts[:20]:
    rules.match(text)
started = time.process_time()
for _ in range(3):
    for text in texts:
        rules.match(text)
print((time.process_time() - started) / (3 * len(texts)))
"""


def fresh_load(folder: Path, texts: list[str], code: Path = ROOT) -> tuple[float, ...] | str:
    """In a new process with the project at `code`: wall and CPU seconds to import and load,
    CPU and wall seconds for a reload, the peak RSS in KiB, and CPU seconds per message; or
    the last line of its error (a rule set that revision refuses)."""
    source = LOAD.format(root=str(code), folder=str(folder))
    ran = subprocess.run(
        [sys.executable, "-c", source],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        cwd=code,
    )
    if ran.returncode != 0:
        return (ran.stderr.strip().splitlines() or ["failed"])[-1][:300]
    return tuple(float(value) for value in ran.stdout.split())


def memory_kib(field: str, path: str = "/proc/self/smaps_rollup") -> int:
    for line in Path(path).read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def worker_memory(folder: Path, texts: list[str]) -> tuple[int, int, int]:
    """The loading process's RSS, and a forked worker's RSS and private memory after it
    matched every message (what each further worker adds), in KiB."""
    from app.rules import load_rules

    rules = load_rules(folder)
    master = memory_kib("Rss")
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        for text in texts:
            rules.match(text)
        private = memory_kib("Private_Clean") + memory_kib("Private_Dirty")
        os.write(writer, f"{memory_kib('Rss')} {private}".encode())
        os._exit(0)
    os.waitpid(child, 0)
    rss, private = map(int, os.read(reader, 100).split())
    return master, rss, private


def install_sizes() -> dict[str, int]:
    import numpy

    site = Path(numpy.__file__).resolve().parent.parent
    sizes = {}
    for name in PACKAGES:
        folder = site / name
        if folder.exists():
            sizes[name] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return sizes


def main() -> None:
    texts = questions()
    with tempfile.TemporaryDirectory() as top:
        by_examples, by_phrases = Path(top, "examples"), Path(top, "phrases")
        by_examples.mkdir()
        by_phrases.mkdir()
        count = write_rules(by_examples, "examples")
        write_rules(by_phrases, "phrases")
        print(f"{RULES} rules, {count} examples, {len(texts)} messages")
        designs = {"this tree": ROOT}
        if revision := os.environ.get("BENCH_BEFORE"):
            designs[f"at {revision}"] = export_revision(revision, Path(top))
        refused = False
        for name, code in designs.items():
            measured = fresh_load(by_examples, texts, code)
            if isinstance(measured, str):
                print(f"{name}: refused: {measured}")
                refused |= code == ROOT
                continue
            wall, cpu, reload_cpu, reload_wall, peak, per_message = measured
            print(
                f"{name}: fresh process, import and load {wall:.2f} s wall, {cpu:.2f} s CPU; "
                f"reload (model loaded, training included) {reload_wall:.2f} s wall, "
                f"{reload_cpu:.2f} s CPU; peak RSS {peak / 1024:.0f} MiB; "
                f"CPU per message {per_message * 1e6:.0f} µs"
            )
        if refused:
            print("(this tree refuses the rule set: no memory figures)")
            return
        as_phrases = fresh_load(by_phrases, texts)
        assert not isinstance(as_phrases, str), as_phrases
        print(f"the same rules as phrases: CPU per message {as_phrases[-1] * 1e6:.0f} µs")
        master, rss, private = worker_memory(by_examples, texts)
        print(
            f"memory: loading process RSS {master / 1024:.0f} MiB; a forked worker RSS "
            f"{rss / 1024:.0f} MiB, of it private {private / 1024:.1f} MiB"
        )
    sizes = install_sizes()
    total = sum(sizes.values())
    listed = ", ".join(f"{name} {size / 2**20:.1f}" for name, size in sizes.items())
    print(f"installed size of the packages examples need: {total / 2**20:.0f} MiB ({listed})")


if __name__ == "__main__":
    main()
