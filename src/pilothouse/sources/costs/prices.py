"""How Bedrock invocations are priced: per-model overrides, else genai-prices."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from pilothouse.errors import ConfigError
from pilothouse.model import CostLine

_Number = Decimal | int | float | str
_MILLION = Decimal(1_000_000)
_GEO_PREFIX = re.compile(r"^(?:us|eu|apac|jp|au|ca|in|us-gov|global)\.")


@dataclass(frozen=True, slots=True)
class _Tokens:
    input: int  # input tokens not read from or written to the cache
    output: int
    cache_read: int
    cache_write: int


def _to_decimal(value: _Number, what: str) -> Decimal:
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ConfigError(f"{what}: not a number: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise ConfigError(f"{what}: must be a finite number >= 0, not {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class ModelRates:
    """A model's token prices in USD per million tokens."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_read_per_mtok: Decimal
    cache_write_per_mtok: Decimal

    @classmethod
    def of(cls, model: str, values: Sequence[_Number]) -> ModelRates:
        """From (input, output[, cache read, cache write]); cache rates default to input."""
        if isinstance(values, str | bytes) or len(values) not in (2, 3, 4):
            raise ConfigError(
                f"price override for {model!r}: expected (input, output, cache read, "
                f"cache write) USD per million tokens, got {values!r}"
            )
        numbers = [_to_decimal(value, f"price override for {model!r}") for value in values]
        numbers += [numbers[0]] * (4 - len(numbers))
        return cls(*numbers)

    def cost(self, tokens: _Tokens) -> Decimal:
        total = (
            tokens.input * self.input_per_mtok
            + tokens.output * self.output_per_mtok
            + tokens.cache_read * self.cache_read_per_mtok
            + tokens.cache_write * self.cache_write_per_mtok
        )
        return total / _MILLION


class PriceBook:
    """How Bedrock invocations are priced: per-model overrides, else genai-prices.

    *overrides* maps a model id, exactly as logged (``us.anthropic...``, an
    inference-profile ARN) or bare (``anthropic.claude-...``, which also covers
    its geo-prefixed and ARN forms), to ``(input, output, cache read, cache
    write)`` USD per million tokens; the cache rates may be left out (they then
    default to the input rate). *batch_discount* is the fraction taken off
    on-demand prices for batch inference (Bedrock charges 50%).
    """

    __slots__ = ("_overrides", "batch_discount")

    def __init__(
        self,
        overrides: Mapping[str, Sequence[_Number]] | None = None,
        *,
        batch_discount: _Number = Decimal("0.5"),
    ) -> None:
        rates = {model: ModelRates.of(model, values) for model, values in (overrides or {}).items()}
        self._overrides: Mapping[str, ModelRates] = MappingProxyType(rates)
        self.batch_discount = _to_decimal(batch_discount, "batch_discount")
        if self.batch_discount >= 1:
            raise ConfigError(f"batch_discount: must be below 1, not {batch_discount!r}")

    @property
    def overrides(self) -> Mapping[str, ModelRates]:
        return self._overrides

    def rates(self, model: str) -> ModelRates | None:
        """The override for *model*: exact id first, then its bare foundation-model id."""
        exact = self._overrides.get(model)
        if exact is not None:
            return exact
        return self._overrides.get(bare_model_id(model))


def bare_model_id(model: str) -> str:
    """The foundation-model id inside an inference-profile id or ARN.

    >>> bare_model_id("arn:aws:bedrock:us-east-1:1:inference-profile/us.amazon.nova-pro-v1:0")
    'amazon.nova-pro-v1:0'
    """
    tail = model.rsplit("/", 1)[-1] if model.startswith("arn:") else model
    return _GEO_PREFIX.sub("", tail)


def _catalogue_price(model: str, tokens: _Tokens, when: datetime) -> Decimal | None:
    """genai-prices' on-demand price of the invocation; None when it does not know
    the model. Bedrock ids resolve under genai-prices' provider ``aws``."""
    from genai_prices import Usage, calc_price

    usage = Usage(
        # genai-prices counts cache reads and writes inside input_tokens;
        # Bedrock logs them apart from inputTokenCount.
        input_tokens=tokens.input + tokens.cache_read + tokens.cache_write,
        output_tokens=tokens.output,
        cache_read_tokens=tokens.cache_read,
        cache_write_tokens=tokens.cache_write,
    )
    try:
        return calc_price(usage, model, provider_id="aws", genai_request_timestamp=when).total_price
    except LookupError:
        return None


def _genai_prices_version() -> str:
    from genai_prices import __version__

    return __version__


def price_book_from_config(
    table: Mapping[str, Mapping[str, Any]], *, batch_discount: float = 0.5
) -> PriceBook:
    """A PriceBook from pilothouse.toml's ``cost.model_prices`` table.

    Each model maps to ``{input, output, cache_read, cache_write}`` in USD per
    million tokens; the cache prices default to the input price.
    """
    overrides: dict[str, list[Any]] = {}
    for model, prices in table.items():
        try:
            entry = [prices["input"], prices["output"]]
        except KeyError as exc:
            raise ConfigError(
                f"cost.model_prices.{model}: needs input and output ({exc})"
            ) from None
        entry += [
            prices.get("cache_read", prices["input"]),
            prices.get("cache_write", prices["input"]),
        ]
        overrides[model] = entry
    return PriceBook(overrides, batch_discount=batch_discount)


def token_pricer(book: PriceBook) -> Callable[[str, CostLine], Decimal | None]:
    """Price a line's tokens as if another model had served them (for what-ifs).

    Overrides first, then genai-prices; None for a model neither knows, or a line
    without token counts.
    """

    def price(model: str, line: CostLine) -> Decimal | None:
        tokens = _Tokens(
            input=line.input_tokens or 0,
            output=line.output_tokens or 0,
            cache_read=line.cache_read_tokens or 0,
            cache_write=line.cache_write_tokens or 0,
        )
        if not (tokens.input or tokens.output or tokens.cache_read or tokens.cache_write):
            return None
        rates = book.rates(model)
        if rates is not None:
            return rates.cost(tokens)
        when = datetime(line.day.year, line.day.month, line.day.day, 12, tzinfo=UTC)
        try:
            return _catalogue_price(model, tokens, when)
        except ImportError:
            return None

    return price
