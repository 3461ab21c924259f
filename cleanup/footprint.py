"""The storage footprint model: from bytes no longer stored to kWh and kgCO2e per year, as ranges.

For bytes S that lived in a data centre (see docs/methodology.md)::

    phys_TB = S_TB × R × F
    kWh     = phys_TB × P × PUE × 8.76 × T × a
    CO2_op  = kWh × EF
    CO2_emb = phys_TB × EE / L × T × a
    a       = (365 − lag_days) / 365 in the first year, 1 afterwards

Every parameter has a low, central and high value; the low estimate takes every low value
together and the high every high one, so the range is a pair of bounds, not a confidence
interval. Bytes on a local disk count 0 kWh and 0 kg: a disk draws the same power full or
empty.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import CleanupError

LOCAL, MICROSOFT, GOOGLE = "local", "microsoft", "google"
LOCATIONS = (LOCAL, MICROSOFT, GOOGLE)
UNKNOWN_REGION = "EU"
TB = 10**12
THOUSAND_HOURS_PER_YEAR = 8.76
DAYS_PER_YEAR = 365.0
BOUNDS = ("low", "central", "high")

# Microsoft names its data locations with three letters; the factors table uses ISO codes.
_REGION_ALIASES = {"FRA": "FR", "EUR": "EU", "DEU": "DE", "GBR": "GB", "CHE": "CH"}
# Parameters whose low bound is the larger number: a longer disk life spreads manufacturing thinner.
_DECREASING = frozenset({"life"})
_FIELDS = ("label", "unit", "low", "central", "high", "source", "edition")


class FactorsError(CleanupError):
    """A footprint factors file is unreadable or holds a value the model cannot use."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Range:
    """A low / central / high triple."""

    low: float
    central: float
    high: float

    def __add__(self, other: Range) -> Range:
        return Range(self.low + other.low, self.central + other.central, self.high + other.high)

    def __mul__(self, other: Range) -> Range:
        return Range(self.low * other.low, self.central * other.central, self.high * other.high)

    def times(self, k: float) -> Range:
        """Every bound multiplied by the same number."""
        return Range(self.low * k, self.central * k, self.high * k)

    def over(self, other: Range) -> Range:
        """Bound by bound division."""
        return Range(self.low / other.low, self.central / other.central, self.high / other.high)

    def as_list(self) -> list[float]:
        return [self.low, self.central, self.high]

    @classmethod
    def of(cls, values: Iterable[float]) -> Range:
        low, central, high = values
        return cls(float(low), float(central), float(high))


ZERO = Range(0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Parameter:
    """One row of the parameter table."""

    name: str
    label: str
    unit: str
    low: float
    central: float
    high: float
    source: str
    edition: str

    @property
    def range(self) -> Range:
        return Range(self.low, self.central, self.high)

    def to_json(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in _FIELDS}


@dataclass(frozen=True, slots=True)
class Parameters:
    """The parameter table in force: the shipped one, with any overrides applied."""

    values: dict[str, Parameter]
    overridden_by: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Parameter:
        return self.values[name]

    def pue(self, location: str) -> Range:
        return self.values[f"pue.{location}"].range

    def lag_days(self, location: str) -> float:
        """Days a trash or recycle bin keeps items before freeing them on its own (0: local)."""
        row = self.values.get(f"lag.{location}")
        return row.central if row else 0.0

    def ef_name(self, region: str | None) -> str:
        """The emission factor row used for a region; unknown regions use the EU row."""
        code = normalise_region(region)
        return f"ef.{code}" if f"ef.{code}" in self.values else f"ef.{UNKNOWN_REGION}"

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {name: p.to_json() for name, p in self.values.items()}

    @classmethod
    def from_json(cls, table: Mapping[str, Mapping[str, Any]]) -> Parameters:
        """The table as a report carries it."""
        return cls(_validated(_rows(table, "the report"), "the report"))


def normalise_region(region: str | None) -> str:
    """An upper-case region code ('FR', 'EU'); None and empty mean unknown (EU)."""
    if not region:
        return UNKNOWN_REGION
    code = str(region).strip().upper()
    return _REGION_ALIASES.get(code, code) or UNKNOWN_REGION


def load_parameters(factors: str | Path | None = None) -> Parameters:
    """The shipped parameter table, with the values of a ``--factors`` TOML file applied."""
    text = resources.files("cleanup").joinpath("data/footprint.toml").read_text(encoding="utf-8")
    table = _flatten(tomllib.loads(text))
    origin: tuple[str, ...] = ()
    if factors is not None:
        path = Path(factors)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise FactorsError(f"Cannot read the factors file {path}: {exc.strerror}.") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise FactorsError(f"The factors file {path} is not valid TOML: {exc}.") from exc
        for name, fields in _flatten(raw).items():
            if name not in table and not name.startswith("ef."):
                known = ", ".join(sorted(table))
                raise FactorsError(
                    f"{path}: there is no footprint parameter called {name!r}. Known parameters: {known}; "
                    "a new region's emission factor is written [ef.XX] with low, central, high and source."
                )
            for key in fields:
                if key not in _FIELDS:
                    raise FactorsError(
                        f"{path}: [{name}] has an unknown key {key!r}; use {', '.join(_FIELDS)}."
                    )
            if name not in table:
                missing = [k for k in (*BOUNDS, "source") if k not in fields]
                if missing:
                    raise FactorsError(
                        f"{path}: the new emission factor [{name}] needs {', '.join(missing)}."
                    )
                fields = {
                    "label": f"EF {name[3:]}, kgCO2e/kWh",
                    "unit": "kgCO2e/kWh",
                    "edition": "",
                    **fields,
                }
            table[name] = {**table.get(name, {}), **fields}
        origin = (str(path),)
    where = str(factors) if factors is not None else "the shipped footprint table"
    return Parameters(_validated(_rows(table, where), where), origin)


def _flatten(raw: Mapping[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Nested TOML tables ([pue.google]) into dotted names; a table with values is a parameter."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if not isinstance(value, dict):
            raise FactorsError(
                f"{name} = {value!r} is not a parameter table; write [{name}] with low, central, high."
            )
        leaves = {k: v for k, v in value.items() if not isinstance(v, dict)}
        if leaves:
            out[name] = leaves
        out.update(_flatten({k: v for k, v in value.items() if isinstance(v, dict)}, name + "."))
    return out


def _rows(table: Mapping[str, Mapping[str, Any]], where: str) -> dict[str, Parameter]:
    rows = {}
    for name, fields in table.items():
        values = []
        for bound in BOUNDS:
            value = fields.get(bound)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise FactorsError(f"{where}: [{name}] {bound} must be a number, not {value!r}.")
            values.append(float(value))
        rows[name] = Parameter(
            name,
            str(fields.get("label", name)),
            str(fields.get("unit", "")),
            values[0],
            values[1],
            values[2],
            str(fields.get("source", "")),
            str(fields.get("edition", "")),
        )
    return rows


def _validated(rows: dict[str, Parameter], where: str) -> dict[str, Parameter]:
    required = (
        "replication",
        "fill",
        "power",
        "pue.microsoft",
        "pue.google",
        "ef.EU",
        "embodied",
        "life",
    )
    for name in required:
        if name not in rows:
            raise FactorsError(f"{where}: the parameter [{name}] is missing.")
    for p in rows.values():
        if p.name.startswith("lag."):
            if not all(0 <= v <= DAYS_PER_YEAR for v in (p.low, p.central, p.high)):
                raise FactorsError(f"{where}: [{p.name}] must be between 0 and 365 days.")
            continue
        if not all(v > 0 for v in (p.low, p.central, p.high)):
            raise FactorsError(f"{where}: [{p.name}] low, central and high must all be above 0.")
        ordered = (
            (p.low >= p.central >= p.high)
            if p.name in _DECREASING
            else (p.low <= p.central <= p.high)
        )
        if not ordered:
            order = "low ≥ central ≥ high" if p.name in _DECREASING else "low ≤ central ≤ high"
            raise FactorsError(
                f"{where}: [{p.name}] must have {order} (the low estimate takes every low value), "
                f"got {p.low} / {p.central} / {p.high}."
            )
    return rows


@dataclass(frozen=True, slots=True)
class Estimate:
    """Energy and emissions per year, each a range."""

    kwh: Range = ZERO
    co2_operational: Range = ZERO
    co2_embodied: Range = ZERO

    @property
    def co2(self) -> Range:
        """Operational plus embodied kgCO2e."""
        return self.co2_operational + self.co2_embodied

    def __add__(self, other: Estimate) -> Estimate:
        return Estimate(
            self.kwh + other.kwh,
            self.co2_operational + other.co2_operational,
            self.co2_embodied + other.co2_embodied,
        )

    def to_json(self) -> dict[str, list[float]]:
        return {
            "kwh": _rounded(self.kwh),
            "co2_operational_kg": _rounded(self.co2_operational),
            "co2_embodied_kg": _rounded(self.co2_embodied),
            "co2_kg": _rounded(self.co2),
        }


NOTHING = Estimate()


def _rounded(r: Range) -> list[float]:
    return [float(f"{v:.6g}") for v in r.as_list()]


def lag_factor(lag_days: float) -> float:
    """The share of the first year during which the bytes are really gone."""
    return max(0.0, DAYS_PER_YEAR - max(0.0, lag_days)) / DAYS_PER_YEAR


def estimate(
    storage_bytes: float,
    location: str,
    params: Parameters,
    region: str | None = None,
    lag_days: float = 0.0,
    years: float = 1.0,
) -> Estimate:
    """The footprint of ``storage_bytes`` no longer stored at ``location`` for ``years``.

    ``lag_days`` is how long the bytes stayed billed after the action (a bin's retention);
    pass it for a first-year figure, leave it at 0 for the years after.
    """
    if location == LOCAL or storage_bytes <= 0:
        return NOTHING
    if location not in (MICROSOFT, GOOGLE):
        raise FactorsError(
            f"Unknown storage location {location!r}; use one of {', '.join(LOCATIONS)}."
        )
    a = lag_factor(lag_days) * years
    phys_tb = params["replication"].range.times(storage_bytes / TB) * params["fill"].range
    kwh = (phys_tb * params["power"].range * params.pue(location)).times(
        THOUSAND_HOURS_PER_YEAR * a
    )
    operational = kwh * params[params.ef_name(region)].range
    embodied = (phys_tb * params["embodied"].range).over(params["life"].range).times(a)
    return Estimate(kwh, operational, embodied)


def car_km(co2: Range, params: Parameters) -> Range:
    """The same kgCO2e as kilometres driven in a thermal car."""
    return co2.times(1.0 / params["car"].central)


def avoided_purchase(local_bytes: float, params: Parameters) -> float:
    """kgCO2e to manufacture the external disk capacity no longer needed (one-off, opt-in)."""
    return max(0.0, local_bytes) / TB * params["avoided_purchase"].central


def location_of(provider: str, declared: str | None = None) -> str:
    """The footprint location class of a provider: its declared one, else guessed from the name."""
    if declared in LOCATIONS:
        return str(declared)
    name = provider.lower()
    if name in ("gdrive", "google", "googledrive") or name.startswith("gdrive"):
        return GOOGLE
    if name in ("sharepoint", "onedrive", "microsoft") or name.startswith(
        ("sharepoint", "onedrive")
    ):
        return MICROSOFT
    return LOCAL
