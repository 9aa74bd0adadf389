"""Cost readers on real FOCUS and CUR files and on hand-written fixtures of each format."""

from __future__ import annotations

import codecs
import csv
import gzip
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pilothouse.errors import ConfigError, InputError
from pilothouse.model import CostLine
from pilothouse.sources import costs
from pilothouse.sources.costs import (
    PriceBook,
    parse_day,
    parse_decimal,
    read_bedrock_log,
    read_cost_file,
    read_cur,
    read_focus,
    read_github_usage,
)

from .conftest import DATA

COST = DATA / "cost"
FIXTURES = COST / "fixtures"
FOCUS_SAMPLE = COST / "focus-sample-data" / "focus_sample.csv"
SPEC_EXAMPLES = sorted((COST / "focus-spec-examples").glob("*.csv"))
CUR1 = COST / "aws-cur" / "sample-anonymous-aws-export-dataset.EXCERPT.csv"
CUR2 = FIXTURES / "cur2.csv"
BEDROCK = FIXTURES / "bedrock_invocations.jsonl"
CLAUDE_37 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The file's data rows, read independently of the code under test."""
    with path.open(newline="", encoding="utf-8-sig") as stream:
        return [row for row in csv.DictReader(stream) if any(v.strip() for v in row.values())]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def record(**fields: Any) -> dict[str, Any]:
    """A model invocation record; keyword arguments replace its fields."""
    base: dict[str, Any] = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": "2025-06-01T12:00:00Z",
        "accountId": "123456789012",
        "region": "us-east-1",
        "requestId": "req-1",
        "operation": "Converse",
        "modelId": CLAUDE_37,
        "input": {"inputTokenCount": 1000, "cacheReadInputTokenCount": 0},
        "output": {"outputTokenCount": 100},
    }
    base.update(fields)
    return base


def jsonl(tmp_path: Path, *records: dict[str, Any] | str) -> Path:
    text = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records)
    return write(tmp_path, "log.jsonl", text + "\n")


# -- values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.00000080000", "8.0000E-7"),
        ("1.81E-8", "1.81E-8"),
        ("-8.1396", "-8.1396"),
        (" 12 ", "12"),
        ("$10,000.00 ", "10000.00"),
        ("$100.00 ", "100.00"),
        ("(1.50)", "-1.50"),
        ("-$3", "-3"),
        ("$-3", "-3"),
        ("1,234,567.5", "1234567.5"),
    ],
)
def test_parse_decimal_reads_money_text_exactly(text: str, expected: str) -> None:
    value = parse_decimal(text)
    assert type(value) is Decimal
    assert str(value) == expected


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-inf", "abc", "1,2", "10.000,00", "$", ""])
def test_parse_decimal_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        parse_decimal(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-01-01T00:00:00Z", date(2023, 1, 1)),
        ("2024-09-18 22:00:00", date(2024, 9, 18)),
        ("2023-11-05T04:00:00.000Z", date(2023, 11, 5)),
        ("2024-09-18T23:30:00-02:00", date(2024, 9, 19)),
        ("2024-09-19T01:00:00+02:00", date(2024, 9, 18)),
        ("2025-05-01", date(2025, 5, 1)),
        ("4/1/25", date(2025, 4, 1)),
        ("12/31/2025", date(2025, 12, 31)),
    ],
)
def test_parse_day_is_the_utc_date(text: str, expected: date) -> None:
    assert parse_day(text) == expected


@pytest.mark.parametrize("text", ["2023-02-01T30:00:00Z", "13/1/25", "yesterday", ""])
def test_parse_day_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        parse_day(text)


# -- FOCUS ----------------------------------------------------------------------------


def test_focus_sample_every_row_and_the_exact_effective_cost_sum() -> None:
    rows = csv_rows(FOCUS_SAMPLE)
    expected = sum((Decimal(row["EffectiveCost"]) for row in rows), Decimal(0))
    lines = list(read_focus(FOCUS_SAMPLE))
    assert len(lines) == len(rows) == 1000
    assert sum((line.amount for line in lines), Decimal(0)) == expected == Decimal("14.97651418586")
    assert all(type(line.amount) is Decimal for line in lines)
    assert {line.currency for line in lines} == {"USD"}
    assert [line.line_key for line in lines] == [row["Id"] for row in rows]


def test_focus_sample_line_fields() -> None:
    line = next(line for line in read_focus(FOCUS_SAMPLE) if line.line_key == "19384")
    assert line == CostLine(
        source="focus",
        line_key="19384",
        day=date(2024, 9, 30),
        service="Elastic Load Balancing",
        amount=Decimal("0.00000000000"),
        currency="USD",
        category="Usage",
        resource="arn:ats:emastilmoalfamanling:us-test-2:586597448978:moalfamanler/app/"
        "tungsten-lonbmuenle-amf/l365455f461l4e4a",
        region="us-west-2",
        account="43883916739",
        sku="2ETY8Y426S4237JU",
        quantity=Decimal("0.002007490000000"),
        unit="LCU-Hours",
        tags=(
            ("application", "BrightLensMatrix"),
            ("business_unit", "ViennaAI"),
            ("environment", "dev"),
        ),
        billing_period=date(2024, 9, 1),
    )


def _clean(text: str) -> Decimal:
    return Decimal(text.strip().replace("$", "").replace(",", ""))


@pytest.mark.parametrize("path", SPEC_EXAMPLES, ids=lambda path: path.stem[:60])
def test_every_focus_spec_example_parses(path: Path) -> None:
    rows = csv_rows(path)
    lines = list(read_focus(path))
    assert len(lines) == len(rows) >= 1
    effective = [row.get("EffectiveCost") or row.get("\ufeffEffectiveCost") for row in rows]
    assert [line.amount for line in lines] == [_clean(value or "") for value in effective]
    assert len({line.line_key for line in lines}) == len(lines)


def test_focus_spec_examples_count() -> None:
    assert len(SPEC_EXAMPLES) == 26


def test_focus_spreadsheet_money_and_us_dates() -> None:
    path = (
        COST
        / "focus-spec-examples"
        / "saas_examples__simple_agreements__simple_saas_agreements_a1.csv"
    )
    (line,) = read_focus(path)
    assert (line.amount, line.day, line.currency) == (Decimal("10000.00"), date(2025, 4, 1), "USD")
    assert (line.service, line.category, line.sku) == ("ACMECORP Service", "Purchase", "ACS-001")


def test_focus_identical_rows_are_separate_lines_with_stable_keys() -> None:
    (path,) = (COST / "focus-spec-examples").glob("*flexibility_with_2_resources.csv")
    first, second, third = read_focus(path)
    assert second.line_key != third.line_key
    assert third.line_key == f"{second.line_key}#2"
    assert [line.line_key for line in read_focus(path)] == [
        first.line_key,
        second.line_key,
        third.line_key,
    ]
    # The spec's examples carry no BillingCurrency: ISO 4217's "no currency".
    assert first.currency == "XXX"
    assert first.service == ""


def test_focus_quirks() -> None:
    path = FIXTURES / "focus_quirks.csv"
    assert path.read_bytes().startswith(codecs.BOM_UTF8 + b"BilledCost,")
    lines = list(read_focus(path))
    assert [line.amount for line in lines] == [
        Decimal("1.20"),  # EffectiveCost, not BilledCost
        Decimal("2.00"),  # EffectiveCost NULL: BilledCost
        Decimal("-0.50"),
        Decimal("0.10"),
        Decimal("0.2500"),
    ]
    assert [line.day for line in lines] == [
        date(2024, 9, 18),  # "2024-09-18 22:00:00"
        date(2024, 9, 19),  # 23:30 at -02:00 is the next UTC day
        date(2024, 9, 19),
        date(2024, 9, 20),  # date only
        date(2024, 9, 20),  # fractional seconds
    ]
    assert [line.category for line in lines] == ["Usage", "Usage", "Credit", "Tax", "Usage"]
    assert {line.currency for line in lines} == {"USD"}  # "usd" upper-cased
    assert lines[0].tags == (("env", "prod"), ("team", "ci"))
    assert lines[2].tags == (("reserved", "true"),)
    assert lines[4].tags == (("team", "web"),)  # no braces
    second = lines[1]
    assert (second.resource, second.region, second.quantity, second.tags) == (None, None, None, ())
    assert lines[3].service == ""  # ServiceName null, no ProviderName column
    assert (lines[0].sku, lines[0].quantity, lines[0].unit) == ("SKU-EC2", Decimal(1), "Hours")


def test_focus_0_5_and_1_0_preview_column_names() -> None:
    usage, purchase = read_focus(FIXTURES / "focus_0_5_names.csv")
    assert (usage.amount, usage.currency, usage.category) == (Decimal("8.00"), "EUR", "Usage")
    assert (usage.region, usage.quantity, usage.unit) == ("westeurope", Decimal(24), "Hours")
    assert (purchase.amount, purchase.category, purchase.region) == (
        Decimal("3.00"),
        "Purchase",
        None,
    )


def test_focus_gzip_reads_as_plain(tmp_path: Path) -> None:
    packed = tmp_path / "focus.csv.gz"
    packed.write_bytes(gzip.compress((FIXTURES / "focus_quirks.csv").read_bytes()))
    assert list(read_focus(packed)) == list(read_focus(FIXTURES / "focus_quirks.csv"))


# -- AWS CUR --------------------------------------------------------------------------


def test_cur_lines_carry_their_billing_period() -> None:
    assert {line.billing_period for line in read_cur(CUR1)} == {date(2023, 11, 1)}
    assert {line.billing_period for line in read_focus(FOCUS_SAMPLE)} == {
        date(2024, 9, 1),
        date(2024, 10, 1),
    }


def test_cur1_excerpt() -> None:
    rows = csv_rows(CUR1)
    lines = list(read_cur(CUR1))
    assert len(lines) == len(rows) == 9
    expected = sum((Decimal(row["lineItem/UnblendedCost"]) for row in rows), Decimal(0))
    assert sum((line.amount for line in lines), Decimal(0)) == expected
    tax = lines[0]
    assert (tax.category, tax.service, tax.account) == ("Tax", "AWSCloudTrail", "123412340534")
    assert tax.line_key == (
        "qmooz4hg3jabcdabcdabcdabcdabcdabcdabcdabcjqpgg7ep3a/2023-11-01T00:00:00Z/2023-11-02T00:00:00Z"
    )
    s3 = lines[-1]
    assert (s3.service, s3.region, s3.day, s3.unit) == (
        "AmazonS3",
        "us-east-1",
        date(2023, 11, 4),
        "GB",
    )
    assert (s3.amount, s3.quantity) == (Decimal("1.3E-9"), Decimal("6.71E-8"))


def test_cur2_fixture() -> None:
    lines = list(read_cur(CUR2))
    assert [line.amount for line in lines] == [
        Decimal("8.1396"),  # net unblended, not unblended 8.568
        Decimal("0.273125"),
        Decimal("0.273125"),
        Decimal("-8.1396"),
        Decimal("0.61"),  # no net cost on this row: unblended
        Decimal("-1.25"),
    ]
    assert [line.category for line in lines] == [
        "Usage",
        "Usage",
        "Usage",
        "SavingsPlanNegation",
        "Tax",
        "Credit",
    ]
    ec2 = lines[0]
    assert (ec2.service, ec2.region, ec2.account, ec2.resource) == (
        "AmazonEC2",
        "us-east-1",
        "123456789012",
        "i-0f1e2d3c4b5a69788",
    )
    assert (ec2.sku, ec2.quantity, ec2.unit) == ("XQ7XZWE8SJRQ5JQ4", Decimal("24.0"), "Hrs")
    assert ec2.tags == (("user_env", "prod"), ("user_team", "ci"))
    # The same line item on two days: two lines.
    assert lines[1].line_key != lines[2].line_key
    assert (lines[1].day, lines[2].day) == (date(2025, 6, 1), date(2025, 6, 2))
    assert lines[5].day == date(2025, 6, 3)  # "2025-06-03T04:00:00.000Z"


def test_cur1_tag_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "cur1.csv",
        "identity/LineItemId,lineItem/UsageStartDate,lineItem/CurrencyCode,"
        "lineItem/UnblendedCost,lineItem/ProductCode,resourceTags/user:team,resourceTags/aws:createdBy\n"
        "abc,2024-01-01T00:00:00Z,usd,1.5,AmazonEC2,ci,\n",
    )
    (line,) = read_cur(path)
    assert (line.line_key, line.currency, line.amount) == ("abc", "USD", Decimal("1.5"))
    assert line.tags == (("user:team", "ci"),)


def test_cur_gzip_csv(tmp_path: Path) -> None:
    packed = tmp_path / "cur.csv.gz"
    packed.write_bytes(gzip.compress(CUR2.read_bytes()))
    assert list(read_cur(packed)) == list(read_cur(CUR2))


def test_cur2_parquet_reads_like_csv(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = csv_rows(CUR2)
    money = {"line_item_unblended_cost", "line_item_net_unblended_cost", "line_item_usage_amount"}
    arrays = {}
    for name in rows[0]:
        values = [row[name] or None for row in rows]
        if name in money:
            arrays[name] = pa.array([None if v is None else float(v) for v in values], pa.float64())
        elif name == "line_item_usage_start_date":
            stamps = [datetime.fromisoformat(v or "") for v in values]
            arrays[name] = pa.array(stamps, pa.timestamp("ms", tz="UTC"))
        elif name in ("resource_tags", "product"):
            maps = [list(json.loads(v or "{}").items()) for v in values]
            arrays[name] = pa.array(maps, pa.map_(pa.string(), pa.string()))
        else:
            arrays[name] = pa.array(values, pa.string())
    path = tmp_path / "cur2.parquet"
    pq.write_table(pa.table(arrays), path)
    assert list(read_cur(path)) == list(read_cur(CUR2))


def test_focus_parquet_with_typed_columns_reads_like_csv(tmp_path: Path) -> None:
    """A Parquet export holds doubles and timestamps, not text: same lines, same sum."""
    pa_csv = pytest.importorskip("pyarrow.csv")
    pq = pytest.importorskip("pyarrow.parquet")
    options = pa_csv.ConvertOptions(null_values=["NULL", ""], strings_can_be_null=True)
    table = pa_csv.read_csv(FOCUS_SAMPLE, convert_options=options)
    assert str(table.schema.field("EffectiveCost").type) == "double"
    path = tmp_path / "focus.parquet"
    pq.write_table(table, path)
    assert list(read_focus(path)) == list(read_focus(FOCUS_SAMPLE))


def test_parquet_without_pyarrow_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cur.parquet"
    path.write_bytes(b"PAR1 not really")

    def missing(name: str) -> Any:
        raise ImportError(name)

    monkeypatch.setattr("pilothouse.sources.costs.importlib.import_module", missing)
    with pytest.raises(
        InputError, match=r"cur\.parquet: reading Parquet needs .*pip install pyarrow"
    ):
        list(read_cur(path))


# -- GitHub usage ---------------------------------------------------------------------


def test_github_enhanced_usage_report() -> None:
    path = FIXTURES / "github_usage_enhanced.csv"
    rows = csv_rows(path)
    lines = list(read_github_usage(path))
    assert [line.amount for line in lines] == [Decimal(row["net_amount"]) for row in rows]
    assert sum((line.amount for line in lines), Decimal(0)) == Decimal("21.40084005")
    assert [line.service for line in lines] == [
        "GitHub Actions",
        "GitHub Actions",
        "GitHub Actions",
        "GitHub Actions",
        "GitHub Copilot",
        "GitHub Packages",
    ]
    linux = lines[1]
    assert (linux.repository, linux.workflow, linux.account) == (
        "acme/api",
        ".github/workflows/ci.yml",
        "acme",
    )
    assert (linux.sku, linux.quantity, linux.unit, linux.currency) == (
        "actions_linux",
        Decimal(240),
        "minutes",
        "USD",
    )
    assert linux.tags == (("cost_center_name", "platform"), ("username", "octocat"))
    assert lines[4].repository is None  # Copilot seats belong to no repository
    assert len({line.line_key for line in lines}) == len(lines)


def test_github_metered_usage_report() -> None:
    lines = list(read_github_usage(FIXTURES / "github_usage_metered.csv"))
    # Quantity x Price Per Unit ($); the price already holds the OS multiplier.
    assert [line.amount for line in lines] == [
        Decimal("0.032"),
        Decimal("0.096"),
        Decimal("0.32"),
        Decimal("0.000256"),
    ]
    assert [line.service for line in lines][-2:] == ["GitHub Actions", "GitHub Shared Storage"]
    assert (lines[2].repository, lines[2].workflow) == ("acme/mobile", ".github/workflows/ios.yml")
    assert lines[2].day == date(2024, 1, 3)


def test_github_other_enhanced_spellings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "usage.csv",
        '"formatted_date","product","sku","quantity","unit_type","applied_cost_per_quantity",'
        '"gross_amount","discount_amount","net_amount","username","organization",'
        '"repository_name","workflow_name","workflow_path","cost_center_name"\n'
        '"2025-05-01","actions","actions_linux","2","minutes","0.008","0.016","0.006","",'
        '"","octo-org","acme/web","Dependency Review",".github/workflows/dr.yml",""\n',
    )
    (line,) = read_github_usage(path)
    assert line.amount == Decimal("0.010")  # no net_amount: gross - discount
    assert (line.repository, line.workflow, line.tags) == ("acme/web", "Dependency Review", ())


# -- Bedrock --------------------------------------------------------------------------


def test_bedrock_fixture_lines_and_skips() -> None:
    result = read_bedrock_log(BEDROCK)
    assert result.skipped == 3
    assert result.skip_notes == (
        "line 3: not JSON",
        "line 5: schemaType is 'ExampleOtherLog', not 'ModelInvocationLog'",
        "line 8: no modelId",
    )
    lines = result.lines
    assert [line.model for line in lines] == [
        CLAUDE_37,
        CLAUDE_37,
        "amazon.nova-pro-v1:0",
        "meta.llama3-1-70b-instruct-v1:0",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
    ]
    first = lines[0]
    assert first.line_key == "3f1c2a9e-8d4b-4c51-9e0a-1b2c3d4e5f60"
    assert (first.service, first.currency, first.category) == ("Amazon Bedrock", "USD", "Usage")
    assert (first.day, first.region, first.account) == (
        date(2025, 6, 1),
        "us-east-1",
        "123456789012",
    )
    assert (first.input_tokens, first.output_tokens) == (1200, 350)
    assert (first.cache_read_tokens, first.cache_write_tokens) == (0, 4096)
    assert first.tags == (("repo", "acme/api"), ("task", "triage"))
    nova = lines[2]
    assert (nova.cache_read_tokens, nova.cache_write_tokens) == (None, None)
    throttled = lines[4]
    assert (throttled.amount, throttled.input_tokens) == (Decimal(0), None)
    assert throttled.day == date(2025, 6, 2)
    assert all(type(line.amount) is Decimal for line in lines)


def _genai_price(model: str, moment: datetime, **tokens: int) -> Decimal:
    from genai_prices import Usage, calc_price

    usage = Usage(**tokens)
    price = calc_price(usage, model, provider_id="aws", genai_request_timestamp=moment)
    return price.total_price


def test_bedrock_prices_match_genai_prices() -> None:
    lines = read_bedrock_log(BEDROCK).lines
    nova = _genai_price(
        "amazon.nova-pro-v1:0",
        datetime(2025, 6, 1, 11, 2, 17, tzinfo=UTC),
        input_tokens=2048,
        output_tokens=256,
    )
    assert lines[2].amount == nova > 0
    # genai-prices counts cache tokens inside input_tokens; Bedrock logs them apart.
    claude = _genai_price(
        CLAUDE_37,
        datetime(2025, 6, 1, 9, 15, 2, tzinfo=UTC),
        input_tokens=1200 + 4096,
        cache_write_tokens=4096,
        output_tokens=350,
    )
    assert lines[0].amount == claude > 0


def test_bedrock_override_prices() -> None:
    book = PriceBook({CLAUDE_37: ("3", "15", "0.30", "3.75")})
    lines = read_bedrock_log(BEDROCK, prices=book).lines
    # (1200 x 3 + 4096 x 3.75 + 350 x 15) / 1e6 and (310 x 3 + 4096 x 0.30 + 512 x 15) / 1e6
    assert [line.amount for line in lines[:2]] == [Decimal("0.02421"), Decimal("0.0098388")]


def test_bedrock_bare_override_covers_profiles_and_defaults_cache_to_input(tmp_path: Path) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/" + CLAUDE_37
    path = jsonl(
        tmp_path,
        record(input={"inputTokenCount": 1200, "cacheWriteInputTokenCount": 4096}),
        record(requestId="req-2", modelId=arn, output={"outputTokenCount": 0}),
    )
    book = PriceBook({"anthropic.claude-3-7-sonnet-20250219-v1:0": (1, 2)})
    first, second = read_bedrock_log(path, prices=book).lines
    assert first.amount == Decimal("0.005496")  # (1200 + 4096) x 1 + 100 x 2
    assert second.amount == Decimal("0.001")


def test_bedrock_batch_discount(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path,
        record(),
        record(requestId="req-2", operation="ModelInvocationJob"),
    )
    book = PriceBook({CLAUDE_37: (3, 15, "0.3", "3.75")})
    on_demand, batch = read_bedrock_log(path, prices=book).lines
    assert on_demand.amount == Decimal("0.0045")  # 1000 x 3 + 100 x 15
    assert batch.amount == on_demand.amount / 2
    quarter = PriceBook({CLAUDE_37: (3, 15)}, batch_discount="0.25")
    assert read_bedrock_log(path, prices=quarter).lines[1].amount == Decimal("0.003375")


def test_bedrock_unknown_model_names_model_and_line(tmp_path: Path) -> None:
    path = jsonl(tmp_path, record(), record(requestId="req-2", modelId="acme.private-model-v1:0"))
    with pytest.raises(
        InputError, match=r"log\.jsonl:2: no price for model 'acme\.private-model-v1:0'.*override"
    ):
        read_bedrock_log(path)
    book = PriceBook({"acme.private-model-v1:0": (1, 1)})
    assert read_bedrock_log(path, prices=book).lines[1].amount == Decimal("0.0011")


def test_bedrock_strict_names_the_first_bad_line() -> None:
    with pytest.raises(
        InputError, match=r"bedrock_invocations\.jsonl:3: not a model invocation record: not JSON"
    ):
        read_bedrock_log(BEDROCK, strict=True)


def test_bedrock_cloudwatch_export_prefix_and_utc_day(tmp_path: Path) -> None:
    line = "2025-06-01T23:59:00.000Z " + json.dumps(record(timestamp="2025-06-02T01:30:00+02:00"))
    path = jsonl(tmp_path, line)
    (parsed,) = read_bedrock_log(path, prices=PriceBook({CLAUDE_37: (1, 1)})).lines
    assert parsed.day == date(2025, 6, 1)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timestamp": "last tuesday"}, r":1: unparsable timestamp: 'last tuesday'"),
        ({"timestamp": None}, r":1: the record has no timestamp"),
        ({"output": {"outputTokenCount": -3}}, r":1: output\.outputTokenCount is not a token"),
        ({"input": {"inputTokenCount": "many"}}, r":1: input\.inputTokenCount is not a token"),
    ],
)
def test_bedrock_bad_record_values(tmp_path: Path, fields: dict[str, Any], message: str) -> None:
    path = jsonl(tmp_path, record(**fields))
    with pytest.raises(InputError, match=message):
        read_bedrock_log(path, prices=PriceBook({CLAUDE_37: (1, 1)}))


def test_bedrock_empty_and_record_less_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"empty file, not a Bedrock model invocation log"):
        read_bedrock_log(write(tmp_path, "empty.jsonl", "\n\n"))
    with pytest.raises(
        InputError, match=r"no model invocation records in 2 line\(s\) \(line 1: not"
    ):
        read_bedrock_log(write(tmp_path, "csv.jsonl", "a,b\n1,2\n"))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PriceBook({"m": (1,)}), r"price override for 'm': expected"),
        (lambda: PriceBook({"m": (1, -2)}), r"must be a finite number >= 0"),
        (lambda: PriceBook({"m": ("x", 1)}), r"not a number: 'x'"),
        (lambda: PriceBook(batch_discount=1), r"batch_discount: must be below 1"),
    ],
)
def test_price_book_validates(make: Callable[[], PriceBook], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()


def test_price_book_accepts_floats_as_their_decimal_text() -> None:
    rates = PriceBook({"m": (0.1, 0.2, 0.01, 0.125)}).rates("m")
    assert rates is not None
    assert (rates.input_per_mtok, rates.cache_read_per_mtok) == (Decimal("0.1"), Decimal("0.01"))


# -- dispatch and errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fmt", "count", "skipped"),
    [
        (FOCUS_SAMPLE, "focus", 1000, 0),
        (CUR1, "cur", 9, 0),
        (CUR2, "cur", 6, 0),
        (FIXTURES / "github_usage_enhanced.csv", "github-usage", 6, 0),
        (FIXTURES / "github_usage_metered.csv", "github-usage", 4, 0),
        (BEDROCK, "bedrock-log", 5, 3),
    ],
)
def test_read_cost_file(path: Path, fmt: str, count: int, skipped: int) -> None:
    result = read_cost_file(path, fmt)
    assert (len(result.lines), result.skipped) == (count, skipped)
    assert {line.source for line in result.lines} == {fmt}


def test_read_cost_file_unknown_format() -> None:
    with pytest.raises(InputError, match=r"unknown cost format 'xlsx': expected one of focus, cur"):
        read_cost_file(CUR2, "xlsx")


@pytest.mark.parametrize(
    ("fmt", "header", "missing"),
    [
        (
            "focus",
            "BillingCurrency,ServiceName,ListCost\n",
            "ChargePeriodStart; EffectiveCost or AmortizedCost or BilledCost",
        ),
        ("cur", "line_item_usage_start_date,line_item_unblended_cost\n", "line_item_currency_code"),
        (
            "github-usage",
            "date,product,sku,quantity\n",
            "net_amount or gross_amount",
        ),
        ("github-usage", "Date,Product,Price Per Unit ($)\n", "Quantity"),
    ],
)
def test_missing_columns_are_named(tmp_path: Path, fmt: str, header: str, missing: str) -> None:
    path = write(tmp_path, "export.csv", header + "x,y,z\n")
    with pytest.raises(InputError) as caught:
        read_cost_file(path, fmt)
    message = str(caught.value)
    assert message.startswith(f"{path}: not a")
    assert f"missing column(s) {missing} (found" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("fmt", "text", "message"),
    [
        (
            "focus",
            "ChargePeriodStart,EffectiveCost\n2024-01-01,1\n\n2024-01-02,12.3.4\n",
            r"export\.csv: row 2 \(line 4\): unparsable number in EffectiveCost: '12\.3\.4'",
        ),
        (
            "focus",
            "ChargePeriodStart,EffectiveCost\n2024-01-01,1\nsoon,2\n",
            r"row 2 \(line 3\): unparsable date in ChargePeriodStart: 'soon'",
        ),
        (
            "focus",
            "ChargePeriodStart,EffectiveCost,BilledCost\n2024-01-01,NULL,null\n",
            r"row 1 \(line 2\): no cost: EffectiveCost and BilledCost are both empty",
        ),
        (
            "focus",
            "ChargePeriodStart,EffectiveCost,Tags\n2024-01-01,1,[1]\n",
            r"row 1 \(line 2\): Tags is not a JSON object: '\[1\]'",
        ),
        (
            "cur",
            "lineItem/UsageStartDate,lineItem/CurrencyCode,lineItem/UnblendedCost\n"
            "2024-01-01T00:00:00Z,USD,1e\n",
            r"row 1 \(line 2\): unparsable number in lineItem/UnblendedCost: '1e'",
        ),
        (
            "github-usage",
            "date,product,quantity,net_amount\n2025-01-01,actions,ten,1\n",
            r"row 1 \(line 2\): unparsable number in quantity: 'ten'",
        ),
    ],
)
def test_bad_values_name_file_and_row(tmp_path: Path, fmt: str, text: str, message: str) -> None:
    path = write(tmp_path, "export.csv", text)
    with pytest.raises(InputError, match=message):
        read_cost_file(path, fmt)


@pytest.mark.parametrize("fmt", ["focus", "cur", "github-usage"])
def test_empty_table_files(tmp_path: Path, fmt: str) -> None:
    with pytest.raises(InputError, match=r"empty\.csv: empty file, not an? "):
        read_cost_file(write(tmp_path, "empty.csv", ""), fmt)
    header_only = write(tmp_path, "header.csv", "ChargePeriodStart,BilledCost\n")
    assert read_cost_file(header_only, "focus").lines == ()


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"absent\.csv: cannot read: No such file"):
        read_cost_file(tmp_path / "absent.csv", "focus")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"ChargePeriodStart,BilledCost\n\xff\xfe\x00,1\n")
    with pytest.raises(InputError, match=r"binary\.csv: not UTF-8 text"):
        read_cost_file(binary, "focus")
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(gzip.compress(CUR2.read_bytes())[:200])
    with pytest.raises(InputError, match=r"truncated\.csv\.gz: corrupt or truncated gzip"):
        read_cost_file(truncated, "cur")


def _corrupt_gzip(source: Path, target: Path) -> Path:
    """*source* gzipped with bytes flipped inside the deflate stream, past the header."""
    packed = bytearray(gzip.compress(source.read_bytes()))
    for at in range(200, 260):
        packed[at] ^= 0x55
    target.write_bytes(bytes(packed))
    return target


def test_corrupt_gzip_names_the_file(tmp_path: Path) -> None:
    corrupt = _corrupt_gzip(FOCUS_SAMPLE, tmp_path / "focus.csv.gz")
    with pytest.raises(InputError, match=r"^\S*focus\.csv\.gz: corrupt or truncated gzip"):
        list(read_focus(corrupt))


def _focus_sample_rows() -> tuple[list[str], list[list[str]]]:
    with FOCUS_SAMPLE.open(newline="", encoding="utf-8-sig") as stream:
        header, *rows = csv.reader(stream)
    return header, rows


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows([header, *rows])
    return path


def test_a_row_cut_short_is_an_error_naming_its_line(tmp_path: Path) -> None:
    text = FOCUS_SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    # The second data row cut after a comma past EffectiveCost: the cost is there,
    # ServiceName and Id are not, so it used to read as a charge of no service.
    at = text[2].index(",", text[2].index("2024-09-"))
    path = write(tmp_path, "cut.csv", "\n".join([text[0], text[1], text[2][: at + 300]]) + "\n")
    path.write_text(path.read_text()[: path.read_text().rindex(",") + 1] + "\n")
    with pytest.raises(InputError, match=r"cut\.csv: row 2 \(line 3\): \d+ cells where the "
                                         r"header has 44: is the row cut short\?"):  # fmt: skip
        list(read_focus(path))


def test_rows_without_an_id_are_keyed_by_column_name_not_order(tmp_path: Path) -> None:
    header, rows = _focus_sample_rows()
    drop = header.index("Id")
    header = header[:drop] + header[drop + 1 :]
    rows = [row[:drop] + row[drop + 1 :] for row in rows]
    plain = _write_csv(tmp_path / "plain.csv", header, rows)
    order = sorted(range(len(header)), key=lambda i: header[i].casefold(), reverse=True)
    shuffled = _write_csv(
        tmp_path / "shuffled.csv", [header[i] for i in order], [[r[i] for i in order] for r in rows]
    )
    keys = [line.line_key for line in read_focus(plain)]
    assert len(set(keys)) == 1000
    assert [line.line_key for line in read_focus(shuffled)] == keys


def test_readers_stream(tmp_path: Path) -> None:
    """A bad row late in a file does not stop the lines before it from arriving."""
    path = write(tmp_path, "late.csv", "ChargePeriodStart,BilledCost\n2024-01-01,1\n2024-01-02,x\n")
    lines: Iterator[CostLine] = read_focus(path)
    assert next(lines).amount == 1
    with pytest.raises(InputError, match="row 2"):
        next(lines)


def test_iter_cost_file_streams_and_counts_skips() -> None:
    skipped = costs.SkipLog()
    lines = costs.iter_cost_file(BEDROCK, "bedrock-log", skipped=skipped)
    assert next(lines).model == CLAUDE_37
    assert list(lines)[-1].model == "anthropic.claude-3-5-sonnet-20240620-v1:0"
    assert skipped.count == 3


def test_doctests() -> None:
    import doctest

    assert doctest.testmod(costs).failed == 0
