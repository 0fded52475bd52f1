"""Write the sample registration files for `flask contracts import` (see docs/contracts-import.md).

    .venv/bin/python docs/samples/make_samples.py

Deterministic: the same rows every run (only the XLSX's metadata records when it was written).
Each file has a few rows the importer rejects on purpose (``_bad_rows``, plus a row without a
registration number in the CSVs), so the samples also show the row report.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent

SELLERS = [
    ("中国海洋大学", "崂山区", "022"),
    ("青岛大学", "市南区", "022"),
    ("青岛科技大学", "370212", "022"),
    ("中国科学院青岛生物能源与过程研究所", "崂山区", "021"),
    ("青岛海洋装备研究院", "黄岛区", "021"),
    ("青岛海纳智能装备有限公司", "西海岸新区", "159"),
    ("山东大学", "济南市", "022"),
]
BUYERS = [
    ("青岛港湾机械有限公司", "青岛西海岸新区", "110"),
    ("青岛蓝谷海洋生物科技有限公司", "即墨区", "159"),
    ("海尔智家股份有限公司", "崂山区", "160"),
    ("青岛胶州湾食品有限公司", "胶州市", "159"),
    ("烟台某化工有限公司", "山东省烟台市", "110"),
    ("青岛城阳轨道交通装备有限公司", "城阳区", "173"),
]
TYPES = ["技术开发", "技术转让", "技术许可", "技术咨询", "技术服务"]
FIELDS = ["电子信息", "先进制造", "新材料及其应用", "生物、医药和医疗器械", "现代交通", "农业", "海洋"]


def rows(prefix: str, count: int) -> list[dict]:
    """``count`` good rows; amounts in 元 (Decimal), dates as date objects."""
    out = []
    for n in range(count):
        seller, buyer = SELLERS[n % len(SELLERS)], BUYERS[(n * 5) % len(BUYERS)]
        amount = Decimal(50_000 + (n * 137_911) % 3_000_000).quantize(Decimal("0.01"))
        out.append(
            {
                "no": f"{prefix}{n + 1:06d}",
                "name": f"示例项目{n + 1}：{TYPES[n % 5]}",
                "type": TYPES[n % 5],
                "field": FIELDS[n % 6],
                "amount": amount,
                "tech": (amount * Decimal("0.85")).quantize(Decimal("0.01")),
                "signed": date(2024, 1 + n % 10, 3 + n % 20),
                "registered": date(2024, 2 + n % 10, 5 + n % 20),
                "seller": seller,
                "buyer": buyer,
            }
        )
    return out


def _bad_rows(good: list[dict]) -> None:
    """Break a few rows on purpose: each file's report shows them."""
    good[3]["amount"] = Decimal("0")  # 合同成交额必须大于 0
    good[5]["tech"] = good[5]["amount"] + 1  # 技术交易额不能大于合同成交额
    good[7]["registered"] = date(2023, 1, 1)  # 登记日期不能早于签订日期
    good[9]["field"] = "海洋"  # 未知的技术领域 (not a registration field)


def write_csv(path: Path, encoding: str, title: str | None, prefix: str) -> None:
    data = rows(prefix, 15)
    _bad_rows(data)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    if title:
        writer.writerow([title])
    writer.writerow(
        ["合同登记号", "项目名称", "合同类型", "技术领域", "合同成交额(元)", "技术交易额(元)", "签订日期", "登记日期",
         "卖方名称", "卖方所在地区", "卖方单位性质", "买方名称", "买方所在地区", "买方单位性质"]
    )  # fmt: skip
    for index, row in enumerate(data):
        signed = row["signed"].isoformat() if index % 2 else f"{row['signed']:%Y/%-m/%-d}"
        registered = f"{row['registered']:%Y年%-m月%-d日}" if index % 3 == 0 else row["registered"].isoformat()
        writer.writerow(
            [row["no"], row["name"], row["type"], row["field"], f"{row['amount']:,}", row["tech"], signed, registered,
             *row["seller"], *row["buyer"]]
        )  # fmt: skip
    writer.writerow(["", "缺登记号的行", "技术开发", "电子信息", "1000", "1000", "2024-01-01", "2024-02-01",
                     "青岛大学", "市南区", "022", "某公司", "市北区", "110"])  # fmt: skip
    prefix_bom = "\ufeff" if encoding == "utf-8-sig" else ""
    path.write_bytes((prefix_bom + buffer.getvalue()).encode("gbk" if encoding == "gbk" else "utf-8"))


def write_xlsx(path: Path) -> None:
    data = rows("2025370211", 15)
    _bad_rows(data)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "登记明细"
    sheet.append(["2025年青岛市技术合同认定登记明细（示例）"])
    sheet.append(
        ["合同登记编号", "合同名称", "技术合同类别", "技术领域", "合同成交额（万元）", "技术交易额（万元）", "签约日期",
         "认定登记日期", "卖方(受托方)", "卖方行政区划代码", "卖方单位性质", "买方(委托方)", "买方所在地区", "买方单位性质",
         "有效期起", "有效期止"]
    )  # fmt: skip
    for row in data:
        seller, buyer = row["seller"], row["buyer"]
        sheet.append(
            [row["no"], row["name"], row["type"], row["field"], float(row["amount"] / 10_000), float(row["tech"] / 10_000),
             row["signed"].replace(year=2025), row["registered"].replace(year=2025), seller[0], seller[1], seller[2],
             buyer[0], buyer[1], buyer[2], row["signed"].replace(year=2025), row["signed"].replace(year=2027)]
        )  # fmt: skip
    for cells in sheet.iter_rows(min_row=3):
        for cell in cells[6:8] + cells[14:16]:
            cell.number_format = "yyyy-mm-dd"  # real Excel date cells
    workbook.save(path)


if __name__ == "__main__":
    write_csv(HERE / "contracts-utf8.csv", "utf-8-sig", None, "2024370212")
    write_csv(HERE / "contracts-gbk.csv", "gbk", "2024年青岛市技术合同登记汇总表（示例）", "2024370202")
    write_xlsx(HERE / "contracts.xlsx")
    print("wrote", ", ".join(p.name for p in sorted(HERE.glob("contracts*"))))
