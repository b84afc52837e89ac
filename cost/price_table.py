"""The price table (``cost/prices.yaml``): every price with its unit, date and source."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PRICES_FILE = Path(__file__).with_name("prices.yaml")


@dataclass(frozen=True)
class Price:
    key: str
    amount: float
    unit: str
    date: str
    source: str


@dataclass(frozen=True)
class Assumption:
    key: str
    value: float
    unit: str
    why: str


@dataclass(frozen=True)
class PriceTable:
    currency: str
    hours_per_month: int
    redis_capacity_tiers: tuple[tuple[str, int], ...]
    prices: dict[str, Price]
    assumptions: dict[str, Assumption]

    @property
    def seconds_per_month(self) -> int:
        return self.hours_per_month * 3600

    def price(self, key: str) -> float:
        try:
            return self.prices[key].amount
        except KeyError:
            raise KeyError(f"no price {key!r} in {PRICES_FILE.name}; add it with its unit, date and source") from None

    def assumed(self, key: str) -> float:
        return self.assumptions[key].value

    def redis_capacity_tier(self, memory_gb: int) -> str:
        for name, max_gb in self.redis_capacity_tiers:
            if memory_gb <= max_gb:
                return name
        raise ValueError(f"{memory_gb} GB is above every capacity tier in {PRICES_FILE.name}")


def load_prices(path: Path = PRICES_FILE) -> PriceTable:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    prices = {
        key: Price(key, float(p["amount"]), str(p["unit"]), str(p["date"]), str(p["source"]))
        for key, p in document["prices"].items()
    }
    assumptions = {
        key: Assumption(key, float(a["value"]), str(a["unit"]), str(a["why"]))
        for key, a in document["assumptions"].items()
    }
    return PriceTable(
        currency=str(document["currency"]),
        hours_per_month=int(document["hours_per_month"]),
        redis_capacity_tiers=tuple((str(t["name"]), int(t["max_gb"])) for t in document["redis_capacity_tiers"]),
        prices=prices,
        assumptions=assumptions,
    )
