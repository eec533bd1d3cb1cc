"""What hostile or mistaken input costs once bounded (docs/security.md, third pass): each case
runs in a fresh process, which reports its wall time and how much its peak memory grew past
the same process before the case (the model and rules machinery already loaded).

    .venv/bin/python bench/bounds.py
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HEAD = '[[rule]]\nid = "x"\nphrases = ["a"]\nanswer = "b"\n'
RULE = '[[rule]]\nid = "x"\nphrases = ["a"]\n'

# name -> the rules file the case loads (or a marker the child understands)
CASES: dict[str, str] = {
    "300 messages of 1,000 Deseret letters, grouped (/admin)": "@deseret",
    "a dotted TOML key of 20,000 parts": HEAD + "a" + ".a" * 20_000 + " = 1\n",
    "pattern (?:(?:x{1000}){1000}){100}y": RULE
    + "patterns = ['(?:(?:x{1000}){1000}){100}y']\nanswer = 'b'\n",
    "pattern \\\\{4294967294}y": RULE + "patterns = ['\\\\{4294967294}y']\nanswer = 'b'\n",
    "template 'x'|center(300000000)": RULE + "answer = \"{{ 'x'|center(300000000) }}\"\n",
    "template '%300000000s'|format('x')": RULE + "answer = \"{{ '%300000000s'|format('x') }}\"\n",
    "template 'x'|indent(300000000, true)": RULE
    + "answer = \"{{ 'x'|indent(300000000, true) }}\"\n",
    "template [[1]*10000]*5000": RULE + 'answer = "{{ [[1] * 10000] * 5000 }}"\n',
    "a draft of 5,001 examples": "@examples:5001",
    "rules of 2,000 examples, trained": "@examples:1999",
    "rules of 5,000 examples (the most supported), trained": "@examples:4999",
}

CHILD = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from app.rules import RulesError, load_rules
from app.similarity import meaning_vectors
from app.insight.grouping import group_questions
meaning_vectors(["a first question"])
load_rules(Path(sys.argv[1]) / "rules")
case = sys.stdin.read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.monotonic()
said = "loaded"
if case == "@deseret":
    letters = "".join(chr(0x10400 + (n * 7) % 80) if n % 6 else " " for n in range(1000))
    said = f"{len(group_questions([letters[n:] + letters[:n] for n in range(300)]))} groups"
else:
    if case.startswith("@examples:"):
        count = int(case.split(":")[1])
        case = "".join(
            f'[[rule]]\nid = "r{r}"\nanswer = "b"\nexamples = ['
            + ", ".join(f'"question {r} number {n}"' for n in range(10))
            + "]\n"
            for r in range(count // 10 + 1)
        )
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "rules.toml").write_text(case, encoding="utf-8")
        try:
            load_rules(folder)
        except RulesError as error:
            said = str(error).replace(folder + "/", "")[:110]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": time.monotonic() - started, "grew_mb": (after - before) / 1024,
                  "said": said}))
"""


def main() -> None:
    print(f"{platform.node()} · Python {platform.python_version()} · {platform.processor()}")
    print("| case | outcome | seconds | peak memory growth |")
    print("|---|---|---|---|")
    for name, case in CASES.items():
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(ROOT)],
            input=case,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        found = json.loads(done.stdout.strip().splitlines()[-1])
        said, name = found["said"].replace("|", "\\|"), name.replace("|", "\\|")
        print(f"| {name} | {said} | {found['seconds']:.2f} | {found['grew_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
