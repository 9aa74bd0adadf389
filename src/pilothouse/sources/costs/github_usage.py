"""GitHub usage reports: the enhanced billing platform's and the older metered one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pilothouse.model import CostLine
from pilothouse.sources.costs._tables import (
    _Cells,
    _Columns,
    _first_text,
    _Keys,
    _lines_of,
)

_GITHUB = "a GitHub usage report"
_GITHUB_PRODUCTS = {
    "actions": "GitHub Actions",
    "packages": "GitHub Packages",
    "codespaces": "GitHub Codespaces",
    "copilot": "GitHub Copilot",
    "git_lfs": "GitHub Git LFS",
    "git lfs": "GitHub Git LFS",
    "shared storage": "GitHub Shared Storage",
    "ghas": "GitHub Advanced Security",
    "advanced security": "GitHub Advanced Security",
    "advanced_security": "GitHub Advanced Security",
}


def _github_service(product: str) -> str:
    """The product as a service name, matching pilothouse's "GitHub Actions"."""
    known = _GITHUB_PRODUCTS.get(product.casefold())
    if known is not None:
        return known
    return product if product.casefold().startswith("github") else f"GitHub {product}"


def _full_name(owner: str | None, repository: str | None) -> str | None:
    if repository is None or "/" in repository or owner is None:
        return repository
    return f"{owner}/{repository}"


@dataclass(frozen=True, slots=True)
class _GithubLayout:
    enhanced: bool
    day: int
    product: int
    sku: int | None
    quantity: int | None
    unit: int | None
    price: int | None
    gross: int | None
    discount: int | None
    net: int | None
    owner: int | None
    repository: int | None
    workflow: tuple[int | None, ...]
    username: int | None
    cost_center: int | None

    @classmethod
    def of(cls, columns: _Columns) -> _GithubLayout:
        metered = (
            columns.find("net_amount", "gross_amount") is None
            and columns.find("Price Per Unit ($)") is not None
        )
        if metered:  # the older "metered billing" report
            day, product, *_ = columns.require(
                _GITHUB, ("Date",), ("Product",), ("Quantity",), ("Price Per Unit ($)",)
            )
        else:  # the enhanced billing platform's report
            day, product, *_ = columns.require(
                _GITHUB,
                ("date", "formatted_date", "usage_at"),
                ("product",),
                ("net_amount", "gross_amount"),
            )
        return cls(
            enhanced=not metered,
            day=day,
            product=product,
            sku=columns.find("sku"),
            quantity=columns.find("quantity"),
            unit=columns.find("unit_type"),
            price=columns.find("price_per_unit", "applied_cost_per_quantity"),
            gross=columns.find("gross_amount"),
            discount=columns.find("discount_amount"),
            net=columns.find("net_amount"),
            owner=columns.find("organization", "organization_name", "owner"),
            repository=columns.find("repository", "repository_name", "repository_slug"),
            workflow=(
                columns.find("workflow_name"),
                columns.find("workflow_path", "actions_workflow"),
            ),
            username=columns.find("username"),
            cost_center=columns.find("cost_center_name"),
        )


def _github_amount(layout: _GithubLayout, cells: _Cells) -> Decimal:
    if layout.enhanced:
        net = cells.decimal(layout.net)
        if net is not None:
            return net
        gross = cells.decimal(layout.gross)
        if gross is None:
            raise cells.fail("no cost: net_amount and gross_amount are empty")
        return gross - (cells.decimal(layout.discount) or Decimal(0))
    quantity, price = cells.decimal(layout.quantity), cells.decimal(layout.price)
    if quantity is None or price is None:
        raise cells.fail("no cost: Quantity or Price Per Unit ($) is empty")
    return quantity * price


def _github_tags(layout: _GithubLayout, cells: _Cells) -> tuple[tuple[str, str], ...]:
    tags = {
        "username": cells.text(layout.username),
        "cost_center_name": cells.text(layout.cost_center),
    }
    return tuple(sorted((key, value) for key, value in tags.items() if value is not None))


def _github_line(layout: _GithubLayout, cells: _Cells, keys: _Keys) -> CostLine:
    day = cells.day(layout.day)
    product = cells.text(layout.product)
    if day is None or product is None:
        raise cells.fail("the date or product is empty")
    owner = cells.text(layout.owner)
    return CostLine(
        source="github-usage",
        line_key=keys.of_content(cells.named),
        day=day,
        service=_github_service(product),
        amount=_github_amount(layout, cells),
        currency="USD",
        category="Usage",
        account=owner,
        sku=cells.text(layout.sku),
        quantity=cells.decimal(layout.quantity),
        unit=cells.text(layout.unit),
        repository=_full_name(owner, cells.text(layout.repository)),
        workflow=_first_text(cells, layout.workflow),
        tags=_github_tags(layout, cells),
    )


def _github_parser(columns: _Columns) -> Callable[[_Cells], CostLine]:
    layout = _GithubLayout.of(columns)
    keys = _Keys()

    def parse(cells: _Cells) -> CostLine:
        return _github_line(layout, cells, keys)

    return parse


def read_github_usage(path: Path) -> Iterator[CostLine]:
    """Yield one line per row of a GitHub usage report, in USD.

    The enhanced billing platform's report (``date, product, sku, quantity,
    unit_type, applied_cost_per_quantity, gross_amount, discount_amount,
    net_amount, username, organization, repository, workflow_path,
    cost_center_name``; also ``formatted_date``, ``repository_name``,
    ``workflow_name``): ``amount`` is net_amount, what is billed after the
    included free minutes and storage (gross - discount when net is absent).

    The older metered billing report (``Date, Product, SKU, Quantity, Unit Type,
    Price Per Unit ($), Multiplier, Owner, Repository Slug, Username, Actions
    Workflow, Notes``) has no discount column: ``amount`` is Quantity x Price Per
    Unit (the price already includes the OS multiplier), i.e. gross of any
    included minutes.

    ``service`` names the product as "GitHub Actions", "GitHub Copilot", ...;
    ``repository`` is ``owner/name``; ``workflow`` the workflow name where the
    report has one, else its path; username and cost centre become tags.
    """
    return _lines_of(path, _GITHUB, _github_parser)
