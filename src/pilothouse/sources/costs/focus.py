"""FinOps FOCUS cost exports (CSV, gzip CSV or Parquet)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pilothouse.model import CostLine
from pilothouse.sources.costs._tables import (
    _Cells,
    _Columns,
    _Keys,
    _lines_of,
    _Pick,
    _text_tags,
)

NO_CURRENCY = "XXX"  # ISO 4217 "no currency": a FOCUS file without BillingCurrency


_FOCUS = "a FOCUS cost export"
_CATEGORIES = {
    name.casefold(): name for name in ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
}


@dataclass(frozen=True, slots=True)
class _FocusLayout:
    start: int
    effective: int | None
    billed: int | None
    currency: int | None
    service: int | None
    provider: int | None
    category: int | None
    resource: int | None
    region: int | None
    account: int | None
    sku: int | None
    quantity: int | None
    unit: int | None
    tags: int | None
    line_id: int | None
    billing_period: int | None

    @property
    def cells(self) -> tuple[int | None, ...]:
        """The columns a line is made of, in the order _focus_line unpacks them."""
        return (self.line_id, self.service, self.provider, self.currency, self.category,
                self.resource, self.region, self.account, self.sku, self.unit, self.start,
                self.effective, self.billed, self.quantity, self.tags,
                self.billing_period)  # fmt: skip

    @classmethod
    def of(cls, columns: _Columns) -> _FocusLayout:
        # FOCUS 0.5 / 1.0-preview names: AmortizedCost, ChargeType, Region,
        # UsageQuantity, UsageUnit (renamed in 1.0-preview and 1.0).
        start, _cost = columns.require(
            _FOCUS, ("ChargePeriodStart",), ("EffectiveCost", "AmortizedCost", "BilledCost")
        )
        return cls(
            start=start,
            effective=columns.find("EffectiveCost", "AmortizedCost"),
            billed=columns.find("BilledCost"),
            currency=columns.find("BillingCurrency"),
            service=columns.find("ServiceName"),
            provider=columns.find("ProviderName"),
            category=columns.find("ChargeCategory", "ChargeType"),
            resource=columns.find("ResourceId"),
            region=columns.find("RegionId", "Region"),
            account=columns.find("SubAccountId"),
            sku=columns.find("SkuId"),
            quantity=columns.find("ConsumedQuantity", "UsageQuantity"),
            unit=columns.find("ConsumedUnit", "UsageUnit"),
            tags=columns.find("Tags"),
            line_id=columns.find("Id", "ChargeId"),
            billing_period=columns.find("BillingPeriodStart"),
        )


def _focus_parser(columns: _Columns) -> Callable[[_Cells], CostLine]:
    layout = _FocusLayout.of(columns)
    keys = _Keys()
    pick = _Pick(layout.cells)

    def parse(cells: _Cells) -> CostLine:
        return _focus_line(layout, cells, pick, keys)

    return parse


def _focus_line(layout: _FocusLayout, cells: _Cells, pick: _Pick, keys: _Keys) -> CostLine:
    # One read of every cell the line needs: a FOCUS export is hundreds of thousands of rows.
    (line_id, service, provider, currency, category, resource, region, account, sku, unit,
     start, effective, billed, quantity, tags, period) = cells.texts(pick)  # fmt: skip
    day = cells.as_day(start, layout.start)
    if day is None:
        raise cells.fail("ChargePeriodStart is empty")
    amount = cells.as_decimal(effective, layout.effective)
    if amount is None:
        amount = cells.as_decimal(billed, layout.billed)
    if amount is None:
        raise cells.fail("no cost: EffectiveCost and BilledCost are both empty")
    return CostLine(
        source="focus",
        line_key=keys.given(line_id) if line_id else keys.of_content(cells.named),
        day=day,
        service=service or provider or "",
        amount=amount,
        currency=(currency or NO_CURRENCY).upper(),
        category=category and _CATEGORIES.get(category.casefold(), category),
        resource=resource,
        region=region,
        account=account,
        sku=sku,
        quantity=cells.as_decimal(quantity, layout.quantity),
        unit=unit,
        tags=_text_tags(cells, tags) if tags else (),
        billing_period=cells.as_day(period, layout.billing_period),
    )


def read_focus(path: Path) -> Iterator[CostLine]:
    """Yield one line per row of a FinOps FOCUS export (CSV, gzip CSV or Parquet).

    Reads the column sets of FOCUS 1.0, 1.1 and 1.2, and 0.5/1.0-preview names
    (``AmortizedCost``, ``ChargeType``, ``Region``, ``UsageQuantity``, ``UsageUnit``);
    column names match case-insensitively, extra columns are ignored.

    ``amount`` is EffectiveCost (what the charge really cost once discounts and
    commitment amortisation apply), or BilledCost where EffectiveCost is absent
    or null. ``service`` is ServiceName (ProviderName when that is null);
    ``category`` the ChargeCategory in FOCUS's casing; ``account`` SubAccountId;
    ``currency`` BillingCurrency (``XXX``, "no currency", if the file has none, as
    only the spec's illustrative examples do). ``line_key`` is the ``Id`` or
    ``ChargeId`` column where present, else a digest of the row.

    Tolerates ``NULL``/``null`` cells, datetimes without ``T`` or ``Z``, US
    ``M/D/YY`` dates, ``$1,000.00``-style money, a BOM, blank lines and Tags as
    JSON object text.
    """
    return _lines_of(path, _FOCUS, _focus_parser)
