"""Timing a callable: warm-up runs, then repeats; a figure is a median with its min and max."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Figure:
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]

    def ms(self) -> str:
        return f"{self.median * 1000:.1f} ms (min {self.low * 1000:.1f}, max {self.high * 1000:.1f})"


def measure(action: Callable[[], object], *, warmup: int = 1, repeats: int = 5) -> Figure:
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        samples.append(time.perf_counter() - began)
    return Figure(samples)


def ratio_figure(numerator: Figure, denominator: Figure) -> tuple[float, float, float]:
    """The ratio of medians, and the pairwise min and max of the ratios of samples taken in turn."""
    pairs = [a / b for a, b in zip(numerator.samples, denominator.samples, strict=False)]
    return numerator.median / denominator.median, min(pairs), max(pairs)


def measure_interleaved(
    actions: dict[str, Callable[[], object]], *, warmup: int = 1, repeats: int = 5
) -> dict[str, Figure]:
    """Time several actions taking turns, so that a noisy moment hits each of them alike."""
    for _ in range(warmup):
        for action in actions.values():
            action()
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            began = time.perf_counter()
            action()
            samples[name].append(time.perf_counter() - began)
    return {name: Figure(values) for name, values in samples.items()}
