"""P7 hostile input: every text door costs time linear in the text's length, whatever its shape.

For each family of hostile text (repeated brackets, emphasis, dots, "@", table rows, nesting, digits, ...)
and each door (the Markdown renderer, redaction under each field policy, blame hints, the revision diff,
and through the doors: API create with the text in `body` and in `summary`, the live preview, the
near-miss form), the cost at N characters and at 2N is measured in the same run, in turn, and their
ratio printed. Linear cost gives 2; the target is <= 2.3. One request at the largest accepted size is
timed against gunicorn's worker timeout. Timings never fail the run; a door answering anything but
its success status does (bench/run.py reports it as broken).

    python -m bench.hostile_input [--smoke] [--results var/p7.md]   # alone, on an in-memory SQLite
    make bench                                                        # as step P7 of the whole suite
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Each family is a unit repeated up to the length: those of docs/hostile-input.md first, then the shapes found
# while auditing.
FAMILIES: dict[str, str] = {
    "[": "[", "*": "*", "_": "_", "a*": "a*", "[a](": "[a](", ".": ".", "a.": "a.", "@": "@", "a@": "a@",
    "a@b.": "a@b.", "http://": "http://", "x:": "x:", "`": "`", "<": "<", "&#": "&#",
    "table rows |a|": "|a|\n", "> nesting": ">", "- nested lists": "- ", "1. nested lists": "1. ",
    "digits": "4111 1111 1111 1111 +33 6 12 34 56 78 ", "digit run": "0123456789", "base64-ish": "aZ9+/",
    "spaces and tabs": " \t", "![": "![", "%": "%", "eyJ-": "eyJ-", "xoxb-": "xoxb-", "task list": "- [ ] x\n",
    "a://b:": "a://b:", "repeated lines a/b": "a\nb\n",
}  # fmt: skip
TARGET_RATIO = 2.3
# Samples at N and at 2N (twice as many for fast calls); the least disturbed is kept. On a shared machine a
# busy stretch can outlast a few samples, so a full run takes five.
FULL_REPEATS = 5
# A ratio past the target is measured again (its samples join the first ones) up to this many times: a cost
# that grows faster than the text does so every time, a busy moment of the machine does not.
CONFIRMATIONS = 2
# Neither the README's gunicorn command nor bench/api_throughput.py sets --timeout: gunicorn's default applies.
GUNICORN_TIMEOUT = 30.0
BODY_MAX, TEXT_MAX = 200_000, 20_000
MIN_SAMPLE_SECONDS = 0.02  # fast calls are repeated within a sample, so that a preemption is a small part of it
SLOW_CALL_SECONDS = 0.2  # calls slower than this are sampled `repeats` times; faster ones, twice as often
TITLE = "P7 hostile input"


def family_text(unit: str, length: int) -> str:
    return (unit * (length // len(unit) + 1))[:length]


def _lines(text: str) -> str:
    """The text cut into short lines, so that a line diff has many (repetitive) lines to align."""
    return "\n".join(text[start : start + 8] for start in range(0, len(text), 8))


@dataclass
class Door:
    name: str
    size: int  # N: the cost is measured at N and 2N characters
    call: Callable[[str], object]


@dataclass
class Cost:
    door: str
    family: str
    size: int
    at_n: float
    at_2n: float

    @property
    def ratio(self) -> float:
        return self.at_2n / self.at_n if self.at_n > 0 else float("inf")


@dataclass
class Result:
    costs: list[Cost] = field(default_factory=list)
    largest: list[tuple[str, str, int, float]] = field(default_factory=list)  # door, family, length, seconds
    broken: list[str] = field(default_factory=list)

    def worst(self, door: str) -> Cost:
        return max((cost for cost in self.costs if cost.door == door), key=lambda cost: cost.ratio)

    def doors(self) -> list[str]:
        return list(dict.fromkeys(cost.door for cost in self.costs))


# --- The doors -------------------------------------------------------------------------------------------


def function_doors(*, size: int) -> list[Door]:
    """The text-handling functions themselves, at the body's sizes."""
    from django.conf import settings
    from django.core.exceptions import ValidationError

    from incidents.blame import blame_hints, parse_phrases
    from incidents.diff import line_diff
    from incidents.markdown import render_markdown
    from incidents.redaction import OFF, POLICIES, redact_fields

    phrases = parse_phrases(settings.BLAME_PHRASES)
    names = ["alice", "bob", "chen", "dana", "ravi", "sam"]

    def redaction(policy: str) -> Callable[[str], object]:
        def call(text: str) -> object:
            try:
                return redact_fields({"body": text}, policies={"body": policy}, default=OFF)
            except ValidationError as refused:  # the reject policy refuses what it finds: that is its cost too
                return refused

        return call

    return [
        Door("render_markdown", size, render_markdown),
        *[Door(f"redact_fields ({policy})", size, redaction(policy)) for policy in POLICIES],
        Door("blame_hints", size, lambda text: blame_hints(text, names=names, phrases=phrases)),
        Door("line_diff (revision diff)", size, lambda text: line_diff(_lines(text), _lines(text[::-1]))),
    ]


def request_doors(*, client, token: str, team_id: int, environment_id: int, body_size: int, text_size: int):
    """The same text through the doors people and tools use: each must answer with its success status."""

    def expect(response, status: int, what: str) -> None:
        if response.status_code != status:
            raise RuntimeError(f"{what} answered {response.status_code}, not {status}")

    def api(field_name: str) -> Callable[[str], object]:
        def call(text: str) -> None:
            data = {"kind": "incident", "title": TITLE, field_name: text, "source": "bench-p7"}
            response = client.post(
                "/api/v1/incidents/", data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
            )
            expect(response, 201, f"POST /api/v1/incidents/ ({field_name})")

        return call

    def preview(text: str) -> None:
        expect(client.post("/incidents/preview/", {"body": text}), 200, "POST /incidents/preview/")

    def near_miss(text: str) -> None:
        # "What happened" is required: a text of spaces alone would be (rightly) refused.
        data = {"title": TITLE, "summary": "x" + text[1:], "environment": environment_id, "caught_by": "code_review",
                "team": team_id}  # fmt: skip
        expect(client.post("/near-misses/new/", data), 302, "POST /near-misses/new/")

    return [
        Door("POST /api/v1/incidents/ (body)", body_size, api("body")),
        Door("POST /api/v1/incidents/ (summary)", text_size, api("summary")),
        Door("POST /incidents/preview/", body_size, preview),
        Door("POST /near-misses/new/ (summary)", text_size, near_miss),
    ]


# --- Measuring -------------------------------------------------------------------------------------------


def _seconds(call: Callable[[str], object], text: str, loops: int) -> float:
    began = time.perf_counter()
    for _ in range(loops):
        call(text)
    return (time.perf_counter() - began) / loops


def cost(
    door: Door, family: str, unit: str, *, repeats: int, confirmations: int = CONFIRMATIONS,
    min_sample_seconds: float = MIN_SAMPLE_SECONDS,
) -> Cost:  # fmt: skip
    """The least disturbed of `repeats` samples at N and at 2N, taken in turn (noise only ever adds time)."""
    small, large = family_text(unit, door.size), family_text(unit, 2 * door.size)
    first = _seconds(door.call, small, 1)  # also the warm-up
    loops = max(1, min(200, int(min_sample_seconds / max(first, 1e-9))))
    at_n: list[float] = []
    at_2n: list[float] = []
    for _confirmation in range(1 + confirmations):
        for _ in range(repeats if first > SLOW_CALL_SECONDS or not min_sample_seconds else 2 * repeats):
            at_n.append(_seconds(door.call, small, loops))
            at_2n.append(_seconds(door.call, large, loops))
        if min(at_2n) / min(at_n) <= TARGET_RATIO:
            break
    return Cost(door.name, family, door.size, min(at_n), min(at_2n))


def run(
    doors: list[Door], *, repeats: int, families: dict[str, str] = FAMILIES, largest: list[Door] = (),
    smoke: bool = False,
) -> Result:  # fmt: skip
    """Every door with every family. `smoke` (CI's check that the harness works) takes one sample of one call at
    N and at 2N and measures nothing again: every door still answers every family, but no ratio means much."""
    result = Result()
    quick = {"confirmations": 0, "min_sample_seconds": 0.0} if smoke else {}
    for door in doors:
        for family, unit in families.items():
            try:
                result.costs.append(cost(door, family, unit, repeats=repeats, **quick))
            except Exception as error:  # a broken door is reported, and the others still run
                result.broken.append(f"P7 {door.name}, family {family!r}: {type(error).__name__}: {error}")
                continue
        if _count(result, door.name):
            print(f"  P7 {door.name}: worst ratio {result.worst(door.name).ratio:.2f}", flush=True)
    for door in largest:
        family = _slowest_family(result, door.name)
        try:
            seconds = _seconds(door.call, family_text(families[family], door.size), 1)
        except Exception as error:
            result.broken.append(f"P7 {door.name} at {door.size:,}: {type(error).__name__}: {error}")
            continue
        result.largest.append((door.name, family, door.size, seconds))
    return result


def _slowest_family(result: Result, door: str) -> str:
    costs = [cost for cost in result.costs if cost.door == door] or result.costs
    return max(costs, key=lambda cost: cost.at_2n).family


def with_server_gc(action: Callable[[], Result]) -> Result:
    """Measured with the web server's garbage-collection settings (config/wsgi.py), as P5 is."""
    saved = gc.get_threshold()
    from config.wsgi import tune_garbage_collection

    tune_garbage_collection()
    try:
        return action()
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)


# --- Reporting -------------------------------------------------------------------------------------------


def rows(result: Result) -> list[tuple[str, str, str, str, bool | None]]:
    """(name, what, figure, target, met) for bench/suite.py's table: one row per door, one for the timeout."""
    table = []
    for door in result.doors():
        worst = result.worst(door)
        table.append((
            "P7", f"{door}: cost at 2N / at N, N = {worst.size:,} chars, {_count(result, door)} families",
            f"worst {worst.ratio:.2f} (`{_cell(worst.family)}`: {worst.at_n * 1000:.1f} ms vs {worst.at_2n * 1000:.1f} ms)",
            f"<= {TARGET_RATIO}", worst.ratio <= TARGET_RATIO,
        ))  # fmt: skip
    if result.largest:
        slowest = max(result.largest, key=lambda item: item[3])
        listed = "; ".join(f"{door} at {size:,} (`{_cell(family)}`) {seconds:.2f} s" for door, family, size, seconds in
                           result.largest)  # fmt: skip
        table.append((
            "P7", "one request at the largest accepted size, slowest family, against gunicorn's worker timeout",
            listed, f"< {GUNICORN_TIMEOUT:.0f} s (gunicorn default)", slowest[3] < GUNICORN_TIMEOUT,
        ))  # fmt: skip
    return table


def _cell(family: str) -> str:
    """A family's name inside a Markdown table cell (GitHub's tables take an escaped pipe in code)."""
    return family.replace("|", "\\|").replace("\n", "\\n")


def _count(result: Result, door: str) -> int:
    return sum(1 for cost in result.costs if cost.door == door)


def markdown_table(result: Result) -> str:
    """Every ratio: one row per family, one column per door."""
    doors = result.doors()
    by_key = {(cost.door, cost.family): cost for cost in result.costs}
    lines = ["| family | " + " | ".join(doors) + " |", "|---" * (len(doors) + 1) + "|"]
    for family in dict.fromkeys(cost.family for cost in result.costs):
        cells = [f"{by_key[(door, family)].ratio:.2f}" if (door, family) in by_key else "-" for door in doors]
        lines.append(f"| `{_cell(family)}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- Alone: python -m bench.hostile_input ----------------------------------------------------------------


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="Small sizes, one sample; checks the harness only.")
    parser.add_argument("--results", help="Also write the table of ratios (Markdown) to this file.")
    return parser.parse_args()


def _setup_alone() -> None:
    from bench.environment import BENCH_ENVIRONMENT

    for name, value in BENCH_ENVIRONMENT.items():
        os.environ[name] = value
    os.environ.setdefault("DATABASE_URL", "sqlite://:memory:")  # CPU cost of text handling: any database does
    os.environ.setdefault("SECRET_KEY", "bench-" + secrets.token_urlsafe(40))
    os.environ.setdefault("HINDSIGHT_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "bench"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)


def doors_for(
    *, client, token: str, team_id: int, environment_id: int, smoke: bool
) -> tuple[list[Door], list[Door]]:
    """(the doors measured at N and 2N, the doors timed once at their largest accepted size)."""
    body, text = (2_000, 1_000) if smoke else (BODY_MAX // 4, TEXT_MAX // 2)
    doors = function_doors(size=body) + request_doors(
        client=client, token=token, team_id=team_id, environment_id=environment_id, body_size=body, text_size=text
    )
    largest = request_doors(
        client=client, token=token, team_id=team_id, environment_id=environment_id,
        body_size=body * 2 if smoke else BODY_MAX, text_size=text * 2 if smoke else TEXT_MAX,
    )  # fmt: skip
    return doors, largest


def main() -> int:
    args = _arguments()
    _setup_alone()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from incidents.models import Environment, Membership, Team
    from incidents.services import api_token_create

    team = Team.objects.create(name="Bench", slug="bench")
    user = get_user_model().objects.create_user("bench-p7")
    Membership.objects.create(user=user, team=team, role=Membership.Role.MEMBER)
    _, token = api_token_create(name="bench-p7", team=team, scope="write")
    client = Client()
    client.force_login(user)
    doors, largest = doors_for(
        client=client,
        token=token,
        team_id=team.pk,
        environment_id=Environment.objects.first().pk,
        smoke=args.smoke,
    )
    repeats = 1 if args.smoke else FULL_REPEATS
    result = with_server_gc(lambda: run(doors, repeats=repeats, largest=largest, smoke=args.smoke))
    for name, what, figure, target, met in rows(result):
        print(f"{name} {what}: {figure}  [target {target}: {'met' if met else 'NOT MET'}]")
    table = markdown_table(result)
    print("\n" + table)
    if args.results:
        Path(args.results).parent.mkdir(parents=True, exist_ok=True)
        Path(args.results).write_text("# P7 hostile input\n\n" + table + "\n")
    if result.broken:
        print("\nBROKEN:\n  " + "\n  ".join(result.broken))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
