"""The sqlite backend's zero-downtime rebuild: a new file beside the live one, swapped in at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from search.backends.sqlite import SqliteBackend
from search.query import Filters, SearchQuery
from tests.search.docs import doc

ROOT = Path(__file__).resolve().parents[2]


OLD = [doc(1, "冷链运输车厢高效隔热材料"), doc(2, "船舶压载水处理系统")]
NEW = [doc(1, "冷链运输车厢高效隔热材料"), doc(3, "海藻酸盐医用敷料制备技术")]


def titles(backend, text):
    return [hit.document["title"] for hit in backend.search(SearchQuery(text=text)).hits]


@pytest.fixture
def backend(tmp_path):
    engine = SqliteBackend(tmp_path / "index.sqlite")
    engine.index(OLD)
    yield engine
    engine.close()


def test_searches_answer_from_the_old_file_until_the_swap(backend, tmp_path):
    other_worker = SqliteBackend(tmp_path / "index.sqlite")
    assert titles(other_worker, "压载水") == ["船舶压载水处理系统"]
    with backend.reindexing() as write:
        write(NEW)
        for engine in (backend, other_worker):
            assert titles(engine, "压载水") == ["船舶压载水处理系统"]  # not emptied, not half-built
            assert titles(engine, "敷料") == []
            assert engine.count() == 2
    for engine in (backend, other_worker):  # both notice the new file without being told
        assert titles(engine, "压载水") == []
        assert titles(engine, "敷料") == ["海藻酸盐医用敷料制备技术"]
    assert (tmp_path / "index.sqlite").is_symlink()


def test_writes_during_the_rebuild_survive_the_swap(backend, tmp_path):
    other_worker = SqliteBackend(tmp_path / "index.sqlite")
    with backend.reindexing() as write:
        write([doc(4, "深远海养殖工船水质调控")])
        other_worker.index([doc(5, "海水淡化正渗透膜")])  # a listing saved meanwhile, in another worker
        other_worker.delete(["4"])  # withdrawn after the rebuild copied it
        other_worker.index([doc(6, "风电叶片涂层 新版")])
        write([doc(6, "风电叶片涂层 旧版")])  # the rebuild's copy was read before the edit
        assert titles(other_worker, "正渗透") == ["海水淡化正渗透膜"]  # live at once, too
    for engine in (backend, other_worker):
        assert titles(engine, "正渗透") == ["海水淡化正渗透膜"]
        assert titles(engine, "养殖工船") == []
        assert titles(engine, "风电叶片") == ["风电叶片涂层 新版"]
    backend.index([doc(7, "氢燃料电池双极板")])  # and the log is not kept after the swap
    assert backend._execute("SELECT count(*) FROM rebuild_log").fetchone()[0] == 0


def test_another_process_with_an_open_connection_reopens_on_the_new_file(backend, tmp_path):
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(ROOT)!r})
        from search.backends.sqlite import SqliteBackend
        from search.query import SearchQuery
        engine = SqliteBackend({str(tmp_path / "index.sqlite")!r})
        for line in sys.stdin:
            hits = engine.search(SearchQuery(text=line.strip())).hits
            print(json.dumps([hit.id for hit in hits]), flush=True)
            engine.index([{{"id": "9" + line.strip()[:1], "kind": "achievement", "status": "published",
                           "title": "另一进程写入" + line.strip(), "industry": "new_materials"}}])
    """)
    worker = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:

        def ask(text):
            worker.stdin.write(text + "\n")
            worker.stdin.flush()
            return json.loads(worker.stdout.readline())

        assert ask("压载水") == ["2"]  # its connection is open on the old file
        with backend.reindexing() as write:
            write(NEW)
        assert ask("敷料") == ["3"]  # it sees the new file
        assert ask("压载水") == []
    finally:
        worker.stdin.close()
        worker.wait(timeout=30)
    # What it wrote after the swap went to the new file, not the replaced one.
    assert {"另一进程写入敷料", "另一进程写入压载水"} <= set(titles(backend, "另一进程写入"))


def test_a_failed_rebuild_leaves_the_live_index_and_no_files(backend, tmp_path):
    with pytest.raises(RuntimeError), backend.reindexing() as write:
        write(NEW)
        raise RuntimeError("database went away")
    assert titles(backend, "压载水") == ["船舶压载水处理系统"]
    assert sorted(path.name for path in tmp_path.iterdir() if not path.name.endswith(("-wal", "-shm"))) == [
        "index.sqlite"
    ]
    backend.index([doc(8, "无人船测深")])
    assert backend._execute("SELECT count(*) FROM rebuild_log").fetchone()[0] == 0  # no longer logging


def test_rebuilding_twice_replaces_the_previous_rebuilt_file(backend, tmp_path):
    for corpus in (NEW, OLD):
        with backend.reindexing() as write:
            write(corpus)
    assert titles(backend, "压载水") == ["船舶压载水处理系统"]
    files = [path.name for path in tmp_path.iterdir() if not path.name.endswith(("-wal", "-shm"))]
    assert len(files) == 2  # the link and the file it leads to; the first rebuilt file is gone


def test_knn_after_the_swap_reads_the_new_files_vectors(backend):
    backend.index([doc(1, "冷链运输车厢高效隔热材料", vector=[1.0, 0.0, 0.0])])
    assert [doc_id for doc_id, _, _ in backend.knn([1.0, 0.0, 0.0], "achievement")] == ["1"]
    with backend.reindexing() as write:
        write([doc(3, "海藻酸盐医用敷料制备技术", vector=[0.0, 1.0, 0.0])])
    found = backend.knn([1.0, 0.0, 0.0], "achievement")
    assert [doc_id for doc_id, _, _ in found] == ["3"]
    assert found[0][2]["title"] == "海藻酸盐医用敷料制备技术"


def test_filters_and_facets_work_on_the_rebuilt_file(backend):
    with backend.reindexing() as write:
        write(NEW)
    result = backend.search(SearchQuery(filters=Filters(kind="achievement")))
    assert result.total == 2 and result.facets["industry"] == {"new_materials": 2}


def test_writes_stop_being_logged_for_a_rebuild_whose_process_died(backend, tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = f"index.sqlite.20240101000000-{gone.stdout.strip()}-1"
    backend._execute("INSERT INTO meta VALUES ('rebuild', ?)", (stale,))
    backend.index([doc(9, "无人船测深")])
    assert backend._execute("SELECT count(*) FROM rebuild_log").fetchone()[0] == 0
    alive = f"index.sqlite.20240101000000-{os.getpid()}-1"
    backend._execute("UPDATE meta SET value = ? WHERE key = 'rebuild'", (alive,))
    backend.index([doc(9, "无人船测深")])
    assert backend._execute("SELECT count(*) FROM rebuild_log").fetchone()[0] == 1
