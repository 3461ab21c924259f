"""A sustainability lead checks the footprint model against FOOTPRINT.md's worked example, by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanup.footprint import (
    FactorsError,
    avoided_purchase,
    car_km,
    estimate,
    lag_factor,
    load_parameters,
)
from cleanup.report_wording import figure, headline, km

TB = 10**12


def rounded(values: list[float], decimals: list[int]) -> list[float]:
    return [round(v, d) for v, d in zip(values, decimals, strict=True)]


def test_worked_example_one_terabyte_sharepoint_france_full_year() -> None:
    params = load_parameters()
    e = estimate(TB, "microsoft", params, region="FR")

    assert rounded(e.kwh.as_list(), [1, 1, 0]) == [11.7, 56.1, 259]
    assert rounded(e.co2.as_list(), [1, 1, 0]) == [1.0, 25.4, 177]
    assert rounded(e.co2_operational.as_list(), [2, 1, 1]) == [0.54, 2.9, 15.0]
    assert rounded(e.co2_embodied.as_list(), [2, 1, 0]) == [0.49, 22.5, 162]
    # The printed figures, as the report prints them.
    assert [figure(v) for v in e.kwh.as_list()] == ["11.7", "56.1", "259"]
    assert [figure(v) for v in e.co2.as_list()][1:] == ["25.4", "177"]
    assert headline(e.co2, "en") == (
        "Estimated storage footprint no longer attributed to this data: about 25 kgCO2e per year (range 1–177)"
    )


def test_worked_example_in_car_kilometres() -> None:
    params = load_parameters()
    co2 = estimate(TB, "microsoft", params, region="FR").co2
    assert [km(v) for v in car_km(co2, params).as_list()] == ["7", "180", "1,250"]


def test_microsoft_region_codes_pick_the_french_factor_and_unknown_regions_the_eu_one() -> None:
    params = load_parameters()
    france = estimate(TB, "microsoft", params, region="FR")
    assert (
        estimate(TB, "microsoft", params, region="FRA") == france
    )  # Microsoft's data location code
    eu = estimate(TB, "microsoft", params, region=None)
    assert eu.kwh == france.kwh
    assert eu.co2_operational.central == pytest.approx(france.kwh.central * 0.21)
    assert estimate(TB, "microsoft", params, region="JP") == eu


def test_google_drive_uses_google_pue_and_the_eu_factor_unless_the_region_is_known() -> None:
    params = load_parameters()
    g = estimate(TB, "google", params)
    # 4.5 physical TB × 1.2 W × 1.10 PUE × 8.76
    assert g.kwh.central == pytest.approx(4.5 * 1.2 * 1.10 * 8.76)
    assert g.co2_operational.central == pytest.approx(g.kwh.central * 0.21)
    assert estimate(TB, "google", params, region="FR").co2_operational.central == pytest.approx(
        g.kwh.central * 0.052
    )


def test_local_disks_count_nothing_but_can_show_an_avoided_purchase() -> None:
    params = load_parameters()
    e = estimate(5 * TB, "local", params)
    assert e.kwh.as_list() == [0, 0, 0] and e.co2.as_list() == [0, 0, 0]
    assert avoided_purchase(2 * TB, params) == pytest.approx(25.32)


def test_first_year_is_reduced_by_the_days_in_a_recycle_bin() -> None:
    params = load_parameters()
    full = estimate(TB, "microsoft", params, "FR")
    first = estimate(TB, "microsoft", params, "FR", lag_days=93)
    assert lag_factor(93) == pytest.approx(272 / 365)
    assert first.co2.central == pytest.approx(full.co2.central * 272 / 365)
    assert lag_factor(400) == 0


def test_factors_file_overrides_a_value_and_adds_a_region(tmp_path: Path) -> None:
    factors = tmp_path / "factors.toml"
    factors.write_text(
        '[ef.FR]\ncentral = 0.05\n\n[ef.DE]\nlow = 0.3\ncentral = 0.38\nhigh = 0.45\nsource = "UBA 2024"\n',
        encoding="utf-8",
    )
    params = load_parameters(factors)
    assert params["ef.FR"].central == 0.05 and params["ef.FR"].source.startswith("ADEME")
    de = estimate(TB, "microsoft", params, region="DE")
    assert de.co2_operational.central == pytest.approx(de.kwh.central * 0.38)
    assert params.overridden_by == (str(factors),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[replicaton]\ncentral = 3\n", "no footprint parameter called 'replicaton'"),
        ("[power]\ncentral = 0.5\n", "must have low ≤ central ≤ high"),
        ("[power]\nlow = 0\n", "above 0"),
        ('[fill]\ncentral = "1.5"\n', "must be a number"),
        ("[life]\nlow = 2\n", "low ≥ central ≥ high"),
        ("[ef.DE]\ncentral = 0.4\n", "needs low, high, source"),
        ("[power]\ncentrl = 1\n", "unknown key 'centrl'"),
        ("power = 3\n", "not a parameter table"),
        ("[power\n", "not valid TOML"),
    ],
)
def test_a_bad_factors_file_is_refused_with_what_to_fix(
    tmp_path: Path, text: str, message: str
) -> None:
    factors = tmp_path / "factors.toml"
    factors.write_text(text, encoding="utf-8")
    with pytest.raises(FactorsError, match=message.replace("(", r"\(")):
        load_parameters(factors)


def test_a_missing_factors_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FactorsError, match="Cannot read the factors file"):
        load_parameters(tmp_path / "nope.toml")


def test_methodology_page_shows_the_shipped_parameter_table() -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "methodology.md").read_text(
        encoding="utf-8"
    )
    rows = {
        line.split("|")[1].strip(): line.split("|")[2:5]
        for line in page.splitlines()
        if line.startswith("| ")
    }
    for p in load_parameters().values.values():
        if not p.name.startswith("lag."):
            assert [float(c) for c in rows[p.label]] == [p.low, p.central, p.high], p.name
