"""A labelled data set in the interchange format, loaded into a scratch marketplace for benchmarks."""

from __future__ import annotations

import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from marketplace import create_app  # noqa: E402
from marketplace.discovery import outbox  # noqa: E402
from marketplace.discovery import services as discovery  # noqa: E402
from marketplace.extensions import db  # noqa: E402
from marketplace.listings.interchange import import_lines  # noqa: E402


def load_qrels(dataset: Path) -> dict[str, dict[str, int]]:
    """demand external id -> achievement external id -> grade (unlisted pairs are grade 0)."""
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in (dataset / "qrels.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            demand, achievement, grade = line.split("\t")
            qrels[demand][achievement] = int(grade)
    return qrels


def fold_of(demand_external_id: str) -> str:
    """Which half of the demands (by the parity of its number) a demand falls in, for 2-fold checks."""
    digits = "".join(char for char in demand_external_id if char.isdigit())
    return "odd" if digits and int(digits) % 2 else "even"


@contextmanager
def scratch_marketplace(dataset: Path) -> Iterator[None]:
    """A migrated temporary instance holding the data set, indexed with vectors as the worker does;
    inside an app and request context."""
    with tempfile.TemporaryDirectory() as scratch:
        app = create_app(
            {
                "INSTANCE_PATH": scratch,
                "DATABASE_URL": f"sqlite:///{scratch}/eval.db",
                "MAIL_BACKEND": "memory",
                "SERVER_NAME": "localhost",
            }
        )
        with app.app_context(), app.test_request_context():
            upgrade()
            discovery.ensure_index()
            for name in ("achievements.jsonl", "demands.jsonl"):
                with (dataset / name).open(encoding="utf-8") as handle:
                    report = import_lines(handle)
                db.session.commit()  # import_lines flushes; the caller commits
                if report.rejected:
                    sys.exit(f"{name}: {len(report.rejected)} lines rejected, e.g. {report.rejected[0]}")
            while outbox.backlog():
                outbox.drain(discovery.backend(), encoder=discovery.encoder())
            yield
