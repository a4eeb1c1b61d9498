"""Mutation testing: plant small bugs, one at a time, and count those the tests catch.

Each mutant changes one token of one source file, the kind of slip a person makes:
a comparison (``<`` ↔ ``<=``, ``>`` ↔ ``>=``, ``==`` ↔ ``!=``), ``and`` ↔ ``or``,
``True`` ↔ ``False``, a dropped ``not``, ``+`` ↔ ``-``, a number plus one, or the last
character of a string (``"8867-4"`` → ``"8867-5"``: a code, a system, a path or a
key). Docstrings, log and exception messages and annotations are left alone (no
test should pin a message's wording), as are lines marked ``# pragma: no mutate``.

For each package the tests that exercise it run against the mutated copy (``pytest
-x``, in a copy of the tree per worker, bytecode off); a mutant is killed when they
fail or time out (3x the unmutated run). Mutants explained as equivalent — the
change cannot alter behaviour — are listed with the reason in
bench/mutants-equivalent.txt and left out of the score. Packages with many
mutants are sampled (``--sample``, a fixed seed): the table says so.

    .venv/bin/python bench/mutants.py                  # every package, sampled
    .venv/bin/python bench/mutants.py --package search --all
    .venv/bin/python bench/mutants.py --list           # the mutants, not run

Prints a table and the survivors, writes bench/results/mutants.json. docs/testing.md
says how to read it and what to do with a survivor.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from dataclasses import asdict, dataclass
from pathlib import Path

from common import print_table, write_result

REPO = Path(__file__).resolve().parents[1]
EQUIVALENT_FILE = REPO / "bench" / "mutants-equivalent.txt"
TARGET_SCORE = 0.90

#: Package → (source files, the tests that exercise them, fastest-failing first).
PACKAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "mappings": (("mappings/*.py",),
                 ("tests/ukcore", "tests/mappings", "tests/mapping")),
    "search": (("facade/fhir/search.py",),
               ("tests/fhir/test_search.py", "tests/fhir/test_search_semantics.py",
                "tests/fhir/test_search_common.py", "tests/fhir/test_search_edges.py",
                "tests/fhir/test_toy_type.py")),
    "stewardship": (("facade/stewardship/*.py",),
                    ("tests/stewardship", "tests/fhir/test_stewardship.py")),
    "protocol": (("facade/protocol/*.py",),
                 ("tests/protocol", "tests/upstream", "tests/simulator")),
    "audit": (("facade/audit/incoming.py", "facade/audit/sqlite_sink.py"),
              ("tests/audit/test_incoming.py", "tests/audit")),
    "framing": (("facade/serving/framing.py",),
                ("tests/serving/test_framing.py", "tests/serving/test_plain_request.py",
                 "tests/serving/test_framing_properties.py")),
    "tokens": (("facade/auth/tokens.py",),
               ("tests/auth/test_token_checks.py", "tests/auth/test_token_endpoint.py",
                "tests/auth/test_attacks.py",
                "tests/auth/test_keys.py", "tests/auth/test_scopes.py",
                "tests/auth/test_guard.py")),
}

SWAPS = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==",
         "+": "-", "-": "+", "and": "or", "or": "and", "True": "False", "False": "True",
         "not": ""}
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
NO_MUTATE = "pragma: no mutate"


@dataclass(frozen=True)
class Mutant:
    path: str  # relative to the repository
    line: int
    column: int
    original: str
    replacement: str
    source_line: str  # the line, stripped: what the key names instead of a line number
    occurrence: int  # which of the line's tokens equal to ``original``, from 0
    alike: int  # which of the file's lines with this text, from 0 (decorators repeat)

    @property
    def key(self) -> str:
        """Names the mutant without line numbers, so that the equivalents file survives
        edits elsewhere in the file."""
        nth = f" [{self.occurrence}]" if self.occurrence else ""
        alike = f" (#{self.alike + 1} of lines alike)" if self.alike else ""
        return (f"{self.path}: {self.original} -> {self.replacement}{nth} in: "
                f"{self.source_line}{alike}")

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


# --- finding mutants -----------------------------------------------------------------------

def mutants_of(path: Path) -> list[Mutant]:
    """Every mutant of one source file, in file order."""
    source = path.read_text()
    lines = source.splitlines()
    quiet = _quiet_spans(ast.parse(source))
    relative = str(path.relative_to(REPO))
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        (line, column), end = token.start, token.end
        replacement = _replacement(token)
        if replacement is None or token.start[0] != end[0] or NO_MUTATE in lines[line - 1] \
                or _inside(quiet, token.start, end):
            continue  # (a string over several lines is a docstring or a message)
        text = lines[line - 1].strip()
        occurrence = sum(1 for m in found if m.line == line and m.original == token.string)
        alike = sum(1 for earlier in lines[:line - 1] if earlier.strip() == text)
        found.append(Mutant(relative, line, column, token.string, replacement, text,
                            occurrence, alike))
    return found


def _replacement(token: tokenize.TokenInfo) -> str | None:
    text = token.string
    if token.type in (tokenize.OP, tokenize.NAME) and text in SWAPS:
        return SWAPS[text]
    if token.type == tokenize.NUMBER and text.isdigit():
        return str(int(text) + 1)
    if token.type == tokenize.STRING:
        return _string_typo(text)
    return None


def _string_typo(literal: str) -> str | None:
    """The literal with the last character of its text changed: a digit +1, a letter
    the next one. None for empty strings, f-strings ending in a field, bytes."""
    quote = literal[-1]
    body_end = len(literal) - (3 if literal.endswith(quote * 3) and len(literal) >= 6 else 1)
    last = literal[body_end - 1]
    prefix = literal[:len(literal) - len(literal.lstrip("rRbBfFuU"))].lower()
    if "b" in prefix or not last.isalnum() or body_end <= len(prefix) + 1:
        return None
    if last.isdigit():
        changed = str((int(last) + 1) % 10)
    else:
        changed = chr((ord(last.lower()) - ord("a") + 1) % 26 + ord("a"))
        changed = changed.upper() if last.isupper() else changed
        if not last.isascii():
            return None
    return literal[:body_end - 1] + changed + literal[body_end:]


def _quiet_spans(tree: ast.AST) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Source spans not to mutate: docstrings, annotations, messages of raised exceptions
    and of log calls."""
    spans = []

    def add(node: ast.AST | None) -> None:
        if node is not None and hasattr(node, "lineno"):
            spans.append(((node.lineno, node.col_offset),
                          (node.end_lineno, node.end_col_offset)))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            add(body[0])
        if isinstance(node, ast.Raise):
            add(node.exc)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in LOG_METHODS:
            for argument in node.args:
                add(argument)
        if isinstance(node, ast.AnnAssign | ast.arg):
            add(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            add(node.returns)
    return spans


def _inside(spans, start, end) -> bool:
    return any(low <= start and end <= high for low, high in spans)


def package_mutants(package: str) -> list[Mutant]:
    sources, _ = PACKAGES[package]
    files = sorted({path for pattern in sources for path in REPO.glob(pattern)
                    if path.name != "__init__.py"})
    return [mutant for path in files for mutant in mutants_of(path)]


def equivalents() -> dict[str, str]:
    """Mutant key → why it cannot change behaviour (bench/mutants-equivalent.txt)."""
    explained = {}
    if EQUIVALENT_FILE.exists():
        for line in EQUIVALENT_FILE.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, why = line.rpartition("  # ")
                explained[key.strip()] = why.strip()
    return explained


# --- running them --------------------------------------------------------------------------

class Workspace:
    """A copy of the tree (tracked and new files, no caches) where mutants are applied."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="facade-mutants-"))
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                                capture_output=True, text=True, check=True).stdout.split()
        for name in listed:
            source = REPO / name
            if source.is_file():
                target = self.root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)

    def run_tests(self, tests: tuple[str, ...], timeout: float | None) -> tuple[str, float]:
        env = {**os.environ, "PYTHONPATH": str(self.root), "PYTHONDONTWRITEBYTECODE": "1",
               "FACADE_TEST_REFERENCE": os.environ.get(
                   "FACADE_TEST_REFERENCE", str(REPO.parent / "shared" / "reference"))}
        present = [t for t in tests if (self.root / t).exists()]
        started = time.monotonic()
        try:
            done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "--no-header",
                                   "-p", "no:cacheprovider", *present], cwd=self.root,
                                  env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "timeout", time.monotonic() - started
        outcome = {0: "survived", 1: "killed"}.get(done.returncode, "killed (error)")
        return outcome, time.monotonic() - started

    def apply(self, mutant: Mutant) -> str:
        """Write the mutant into the copy; returns the original text to restore."""
        path = self.root / mutant.path
        original = path.read_text()
        lines = original.splitlines(keepends=True)
        line = lines[mutant.line - 1]
        at = mutant.column
        assert line[at:at + len(mutant.original)] == mutant.original, mutant.where
        lines[mutant.line - 1] = line[:at] + mutant.replacement + line[at + len(mutant.original):]
        path.write_text("".join(lines))
        return original

    def restore(self, mutant: Mutant, original: str) -> None:
        (self.root / mutant.path).write_text(original)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def run_package(package: str, mutants: list[Mutant], jobs: int) -> dict:
    _, tests = PACKAGES[package]
    spaces = [Workspace() for _ in range(jobs)]
    try:
        baseline, seconds = spaces[0].run_tests(tests, timeout=None)
        if baseline != "survived":
            raise SystemExit(f"{package}: the tests fail without any mutant; fix them first")
        timeout = 3 * seconds + 10
        free = list(spaces)
        results: dict[Mutant, str] = {}

        def one(mutant: Mutant) -> tuple[Mutant, str]:
            space = free.pop()
            try:
                original = space.apply(mutant)
                try:
                    return mutant, space.run_tests(tests, timeout)[0]
                finally:
                    space.restore(mutant, original)
            finally:
                free.append(space)

        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            for done, (mutant, outcome) in enumerate(pool.map(one, mutants), 1):
                results[mutant] = outcome
                print(f"\r{package}: {done}/{len(mutants)}", end="", file=sys.stderr,
                      flush=True)
        print(file=sys.stderr)
        return {"baseline_seconds": seconds, "results": results}
    finally:
        for space in spaces:
            space.remove()


def summary(package: str, found: int, results: dict[Mutant, str],
            explained: dict[str, str]) -> dict:
    equivalent = [m for m in results if m.key in explained]
    counted = {m: o for m, o in results.items() if m.key not in explained}
    killed = sum(1 for o in counted.values() if o != "survived")
    survivors = [m for m, o in counted.items() if o == "survived"]
    return {"package": package, "mutants_found": found, "run": len(results),
            "killed": killed, "timeouts": sum(1 for o in counted.values() if o == "timeout"),
            "equivalent": len(equivalent), "survived": len(survivors),
            "score": killed / len(counted) if counted else 1.0,
            "survivors": [_described(m) for m in survivors]}


def _described(mutant: Mutant) -> dict:
    return {**asdict(mutant), "key": mutant.key, "where": mutant.where}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", action="append", choices=sorted(PACKAGES))
    parser.add_argument("--sample", type=int, default=100,
                        help="mutants per package at most (a fixed-seed sample)")
    parser.add_argument("--all", action="store_true", help="every mutant: no sampling")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--list", action="store_true", help="print the mutants and stop")
    args = parser.parse_args()
    explained = equivalents()
    rows, summaries, started = [], [], time.monotonic()
    for package in args.package or list(PACKAGES):
        found = package_mutants(package)
        chosen = found if args.all or len(found) <= args.sample else \
            sorted(random.Random(args.seed).sample(found, args.sample),
                   key=lambda m: (m.path, m.line, m.column))
        if args.list:
            for mutant in chosen:
                print(mutant.key)
            continue
        run = run_package(package, chosen, args.jobs)
        result = summary(package, len(found), run["results"], explained)
        result["baseline_seconds"] = run["baseline_seconds"]
        summaries.append(result)
        rows.append([package, len(found), result["run"], result["killed"], result["timeouts"],
                     result["equivalent"], result["survived"], f"{result['score']:.1%}"])
    if args.list:
        return 0
    print_table(["package", "mutants", "run", "killed", "of which timeouts", "equivalent",
                 "survived", "score"], rows)
    for result in summaries:
        for survivor in result["survivors"]:
            print(f"survived ({survivor['where']}): {survivor['key']}")
    minutes = (time.monotonic() - started) / 60
    passed = all(result["score"] >= TARGET_SCORE for result in summaries)
    print(f"\n{minutes:.1f} min, jobs={args.jobs}, sample={'all' if args.all else args.sample}"
          f", seed={args.seed}; target >= {TARGET_SCORE:.0%} killed per package -> "
          f"{'PASS' if passed else 'FAIL'}")
    write_result("mutants", {"target_score": TARGET_SCORE, "minutes": minutes,
                             "jobs": args.jobs, "sample": None if args.all else args.sample,
                             "seed": args.seed, "packages": summaries})
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
