"""AWS Cost and Usage Reports: CUR 2.0 and legacy CUR, as CSV, gzip CSV or Parquet."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pilothouse.model import CostLine
from pilothouse.sources.costs._tables import (
    _cell_tags,
    _Cells,
    _Columns,
    _first_text,
    _Keys,
    _lines_of,
)

_CUR = "an AWS Cost and Usage Report"


@dataclass(frozen=True, slots=True)
class _CurLayout:
    start: int
    net: int | None
    unblended: int | None
    currency: int
    service: tuple[int | None, ...]
    category: int | None
    resource: int | None
    region: tuple[int | None, ...]
    account: int | None
    sku: int | None
    quantity: int | None
    unit: int | None
    line_id: int | None
    interval: int | None
    billing_period: int | None
    tag_map: int | None
    tag_columns: tuple[tuple[int, str], ...]

    @classmethod
    def of(cls, columns: _Columns) -> _CurLayout:
        # One normalised name matches CUR 1 CSV (lineItem/UnblendedCost), CUR 1
        # Parquet/Athena and CUR 2.0 (line_item_unblended_cost) alike.
        start, _cost, currency = columns.require(
            _CUR,
            ("line_item_usage_start_date",),
            ("line_item_unblended_cost", "line_item_net_unblended_cost"),
            ("line_item_currency_code",),
        )
        return cls(
            start=start,
            net=columns.find("line_item_net_unblended_cost"),
            unblended=columns.find("line_item_unblended_cost"),
            currency=currency,
            service=(
                columns.find("line_item_product_code"),
                columns.find("product_servicecode"),
                columns.find("product_product_name"),
            ),
            category=columns.find("line_item_line_item_type"),
            resource=columns.find("line_item_resource_id"),
            region=(columns.find("product_region_code"), columns.find("product_region")),
            account=columns.find("line_item_usage_account_id"),
            sku=columns.find("product_sku"),
            quantity=columns.find("line_item_usage_amount"),
            unit=columns.find("pricing_unit"),
            line_id=columns.find("identity_line_item_id"),
            interval=columns.find("identity_time_interval"),
            billing_period=columns.find("bill_billing_period_start_date"),
            tag_map=_tag_map_column(columns),
            tag_columns=_tag_columns(columns),
        )


def _tag_map_column(columns: _Columns) -> int | None:
    for position, name in enumerate(columns.names):
        if name.casefold() == "resource_tags":
            return position
    return None


def _tag_columns(columns: _Columns) -> tuple[tuple[int, str], ...]:
    """CUR 1's one column per tag: ``resourceTags/user:team`` (CSV) or
    ``resource_tags_user_team`` (Parquet); the key is what follows the prefix."""
    found = []
    for position, name in enumerate(columns.names):
        lowered = name.casefold()
        for prefix in ("resourcetags/", "resource_tags_"):
            if lowered.startswith(prefix) and len(name) > len(prefix):
                found.append((position, name[len(prefix) :]))
    return tuple(found)


def _cur_amount(layout: _CurLayout, cells: _Cells) -> Decimal:
    amount = cells.decimal(layout.net)
    if amount is None:
        amount = cells.decimal(layout.unblended)
    if amount is None:
        raise cells.fail("no cost: line_item_unblended_cost is empty")
    return amount


def _cur_tags(layout: _CurLayout, cells: _Cells) -> tuple[tuple[str, str], ...]:
    tags = dict(_cell_tags(cells, layout.tag_map))
    for position, key in layout.tag_columns:
        value = cells.text(position)
        if value is not None:
            tags[key] = value
    return tuple(sorted(tags.items()))


def _cur_key(layout: _CurLayout, cells: _Cells, keys: _Keys) -> str:
    line_id = cells.text(layout.line_id)
    if line_id is None:
        return keys.of_content(cells.named)
    # A line item id repeats once per hour or day of an hourly/daily report.
    interval = cells.text(layout.interval)
    return keys.given(f"{line_id}/{interval}" if interval else line_id)


def _cur_line(layout: _CurLayout, cells: _Cells, keys: _Keys) -> CostLine:
    day = cells.day(layout.start)
    if day is None:
        raise cells.fail("line_item_usage_start_date is empty")
    currency = cells.text(layout.currency)
    if currency is None:
        raise cells.fail("line_item_currency_code is empty")
    return CostLine(
        source="cur",
        line_key=_cur_key(layout, cells, keys),
        day=day,
        service=_first_text(cells, layout.service) or "",
        amount=_cur_amount(layout, cells),
        currency=currency.upper(),
        category=cells.text(layout.category),
        resource=cells.text(layout.resource),
        region=_first_text(cells, layout.region),
        account=cells.text(layout.account),
        sku=cells.text(layout.sku),
        quantity=cells.decimal(layout.quantity),
        unit=cells.text(layout.unit),
        tags=_cur_tags(layout, cells),
        billing_period=cells.day(layout.billing_period),
    )


def _cur_parser(columns: _Columns) -> Callable[[_Cells], CostLine]:
    layout = _CurLayout.of(columns)
    keys = _Keys()

    def parse(cells: _Cells) -> CostLine:
        return _cur_line(layout, cells, keys)

    return parse


def read_cur(path: Path) -> Iterator[CostLine]:
    """Yield one line per row of an AWS Cost and Usage Report: CUR 2.0 (Data
    Exports, ``line_item_unblended_cost``) or legacy CUR (``lineItem/UnblendedCost``
    in CSV, snake_case in Parquet), as CSV, gzip CSV or Parquet (needs pyarrow).

    ``amount`` is the *net unblended* cost where the report has it (the account's
    own rate after every discount AWS applies: EDP, private pricing, bundled
    discounts), else the *unblended* cost. Unblended is the rate the usage account
    itself was charged; blended costs average rates across an organisation's
    accounts and so misstate any one account. This is a cash view: upfront
    Savings Plan or RI fees count on the day they are charged and their coverage
    shows as negative ``SavingsPlanNegation`` lines, so the lines sum to the bill.

    ``service`` is ``line_item_product_code`` (the service that ran the usage; it
    is set on tax lines too), else ``product_servicecode``; ``category`` the AWS
    line item type (Usage, Tax, Credit, Fee, SavingsPlanNegation, ...); ``region``
    ``product_region_code`` (legacy: ``product/region``); ``tags`` the
    ``resource_tags`` map (CUR 2.0) or the ``resourceTags/*`` columns (CUR 1).
    ``line_key`` is the line item id with its time interval; ``billing_period``
    the ``bill_billing_period_start_date``, by which a re-delivered period
    replaces the earlier delivery when stored (see ``REPLACES_PERIODS``).
    """
    return _lines_of(path, _CUR, _cur_parser)
