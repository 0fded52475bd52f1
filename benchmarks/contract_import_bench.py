"""Import rate of technology-contract registration files (marketplace.contracts.importer).

    MARKETPLACE_DATABASE_URL=sqlite:////tmp/bench.db .venv/bin/flask --app wsgi db upgrade
    MARKETPLACE_DATABASE_URL=sqlite:////tmp/bench.db .venv/bin/python benchmarks/contract_import_bench.py --rows 20000

Generates a file of ``--rows`` good rows (CSV in UTF-8 with 万元 amounts and mixed date forms, or
XLSX with a title row and Excel date cells), imports it into the configured database committing per
batch as the CLI does, then imports it again (every row "unchanged"). Use an empty scratch database:
the rows it adds stay there.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from marketplace import create_app  # noqa: E402
from marketplace.contracts.importer import import_file  # noqa: E402
from marketplace.extensions import db  # noqa: E402

HEADER = (
    "合同登记号,项目名称,合同类型,技术领域,合同成交额(万元),技术交易额(万元),签订日期,登记日期,"
    "卖方名称,卖方所在地区,卖方单位性质,买方名称,买方所在地区,买方单位性质"
)


def csv_file(rows: int) -> bytes:
    lines = [HEADER] + [
        f'B{n:08d},项目{n},技术开发,电子信息,"{1000 + n % 5000}.1234",90.5,2024-01-0{1 + n % 9},'
        f"2024年{1 + n % 12}月15日,中国海洋大学,崂山区,022,青岛某公司{n % 300},西海岸新区,159"
        for n in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def xlsx_file(rows: int) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(["2025年青岛市技术合同认定登记明细"])
    sheet.append(HEADER.split(","))
    for n in range(rows):
        sheet.append(
            [f"X{n:08d}", f"项目{n}", "技术开发", "先进制造", 100 + n % 900 + 0.1234, 90, date(2025, 1, 5)]
            + [date(2025, 1 + n % 12, 15), "青岛船舶研究所", "370211", "022", "某船厂", "黄岛区", "159"]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    args = parser.parse_args()
    data = csv_file(args.rows) if args.format == "csv" else xlsx_file(args.rows)
    app = create_app()
    with app.app_context():
        started = time.perf_counter()
        result = import_file(data, f"bench.{args.format}", checkpoint=lambda _report: db.session.commit())
        db.session.commit()
        elapsed = time.perf_counter() - started
        report = result.report
        print(
            f"{db.engine.dialect.name} {args.format}: {report.created} imported, {len(report.rejected)} rejected "
            f"in {elapsed:.2f}s = {args.rows / elapsed:,.0f} rows/s"
        )
        started = time.perf_counter()
        result = import_file(data, f"bench.{args.format}")
        db.session.rollback()
        elapsed = time.perf_counter() - started
        print(f"re-import: {result.report.unchanged} unchanged in {elapsed:.2f}s = {args.rows / elapsed:,.0f} rows/s")


if __name__ == "__main__":
    main()
