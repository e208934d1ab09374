"""Conversation scenarios, written as YAML, played against any adapter through a `Driver`.

A scenario file:

    name: a short sentence saying what the user does
    chat: private            # or: group
    steps:
      - say: obsership fees??          # a plain message
        expect: ["Observership fees", "Sources:"]   # all must appear (case-insensitive)
      - mention: what is ECFMG?        # addressed to the bot the platform's way
        expect: [...]
      - press: "More: Observership"    # press a button of the last reply, by label start
        expect: [...]
        reject: ["Traceback"]          # none may appear
      - say: hello everyone
        silent: true                   # the bot must not answer
      - buttons: ["Observership fees"] # labels that must be offered (by label start)

The console, Telegram and Discord tests each implement `Driver` and run every file in
tests/scenarios/ through it, so the same conversations prove the same behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

SCENARIO_DIR = Path(__file__).parent / "scenarios"


@dataclass
class Transcript:
    """What the bot answered to one step, as the user saw it."""

    text: str = ""
    buttons: list[str] = field(default_factory=list)


class Driver(Protocol):
    """Plays user actions against one adapter."""

    async def start(self, private: bool) -> None: ...
    async def say(self, text: str, mention: bool = False) -> Transcript: ...
    async def press(self, label: str) -> Transcript: ...


@dataclass
class Scenario:
    name: str
    private: bool
    steps: list[dict[str, Any]]
    path: Path


def load_scenarios() -> list[Scenario]:
    """Every scenario in tests/scenarios/, in file order."""
    scenarios = []
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        scenarios.append(Scenario(data["name"], data.get("chat", "private") == "private", data["steps"], path))
    return scenarios


def _check(step: dict[str, Any], number: int, got: Transcript) -> None:
    where = f"step {number} ({next(iter(step.items()))})"
    lowered = got.text.lower()
    if step.get("silent"):
        assert not got.text.strip(), f"{where}: expected silence, got {got.text!r}"
    for wanted in step.get("expect", []):
        assert str(wanted).lower() in lowered, f"{where}: {wanted!r} not in reply:\n{got.text}"
    for unwanted in step.get("reject", []):
        assert str(unwanted).lower() not in lowered, f"{where}: {unwanted!r} in reply:\n{got.text}"
    for label in step.get("buttons", []):
        assert any(b.lower().startswith(str(label).lower()) for b in got.buttons), (
            f"{where}: no button starting {label!r}; buttons: {got.buttons}")


async def play(scenario: Scenario, driver: Driver) -> None:
    """Run every step of `scenario` through `driver`, asserting each expectation."""
    await driver.start(scenario.private)
    for number, step in enumerate(scenario.steps, 1):
        if "say" in step:
            got = await driver.say(str(step["say"]))
        elif "mention" in step:
            got = await driver.say(str(step["mention"]), mention=True)
        elif "press" in step:
            got = await driver.press(str(step["press"]))
        else:
            raise ValueError(f"{scenario.path.name} step {number}: needs say, mention or press")
        _check(step, number, got)
