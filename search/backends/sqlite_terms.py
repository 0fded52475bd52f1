"""Query words as FTS5 match expressions, and which words are worth asking for.

An any-word query ("relaxed" search, or ``lexical`` over a demand's whole text) costs FTS5 the
length of every word's posting list, plus a bm25 evaluation per matching document. A word found
in most listings (研究, 方法) makes both huge while adding almost nothing to the ranking: FTS5's
bm25 idf is log((N - n + 0.5) / (n + 0.5)), zero at half the corpus. So any-word queries ask for
the informative words only: ``informative_groups`` drops words found in more than
``COMMON_SHARE`` of the documents and, for long texts, keeps the rarest within a budget of postings.
Document frequencies are counted with FTS5 itself, up to the point where a word is common, and
cached per process for a while: an estimate that is minutes old ranks the same.
"""

from __future__ import annotations

import sqlite3
import threading
import time

from search import analysis
from search.documents import TEXT_FIELDS

WORD_COLUMNS = "{" + " ".join(TEXT_FIELDS) + "}"
# A word in more than this share of the documents has an idf below log(3) ≈ 1.1 (a rare word's is 6
# to 11) while its posting list is a fifth of the index.
COMMON_SHARE = 0.1
# ...and in at least this many: in a small index every posting list is short and a word shared by
# a few of its listings is still a useful signal.
COMMON_MIN_DOCUMENTS = 2000
DF_CACHE_SECONDS = 3600
DF_CACHE_SIZE = 200_000


def quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def term_groups(text: str) -> list[list[str]]:
    """One group per distinct query word: the word and its synonyms (any of them may match)."""
    groups: list[list[str]] = []
    seen: set[str] = set()
    for token in analysis.tokenize(text or ""):
        if token in seen:
            continue
        seen.add(token)
        groups.append(analysis.expand_synonyms([token]))
    return groups


def group_expression(group: list[str]) -> str:
    """Any of the words, as a whole token in the text columns or as a run of bigrams anywhere."""
    clauses = []
    for term in group:
        clauses.append(f"{WORD_COLUMNS} : {quote(term)}")
        grams = analysis.bigrams(term)
        if len(term) >= 2 and any(len(gram) == 2 for gram in grams):  # CJK words only
            clauses.append(f"grams : {quote(' '.join(grams))}")
    return "(" + " OR ".join(clauses) + ")"


def match_all(groups: list[list[str]]) -> str:
    return " AND ".join(group_expression(group) for group in groups)


def match_any(groups: list[list[str]]) -> str:
    return " OR ".join(group_expression(group) for group in groups)


class DocumentFrequencies:
    """How many documents contain a token (counted up to a cap), cached per index file.

    Counting a token's matches stops at the cap: past it the token is common and the exact
    number does not matter. That is several times cheaper than fts5vocab, which walks the whole
    posting list of a word found in half the index."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, int] | None = None  # (index_id, time bucket)
        self._frequencies: dict[str, int] = {}
        self._documents = 0

    def documents(self, connection: sqlite3.Connection, index_id: str) -> int:
        with self._lock:
            self._check(connection, index_id)
            return self._documents

    def lookup(self, connection: sqlite3.Connection, index_id: str, tokens: list[str], cap: int) -> dict[str, int]:
        """{token: documents containing it, at most ``cap``}."""
        with self._lock:
            self._check(connection, index_id)
            for token in dict.fromkeys(tokens):
                if token not in self._frequencies:
                    try:
                        self._frequencies[token] = connection.execute(
                            "SELECT count(*) FROM (SELECT 1 FROM docs_fts WHERE docs_fts MATCH ? LIMIT ?)",
                            (quote(token), cap),
                        ).fetchone()[0]
                    except sqlite3.OperationalError:  # not a phrase FTS5 accepts: it matches nothing
                        self._frequencies[token] = 0
            return {token: self._frequencies[token] for token in tokens}

    def _check(self, connection: sqlite3.Connection, index_id: str) -> None:
        key = (index_id, int(time.monotonic() // DF_CACHE_SECONDS))
        if key != self._key or len(self._frequencies) > DF_CACHE_SIZE:
            self._key, self._frequencies = key, {}
            self._documents = connection.execute("SELECT count(*) FROM docs").fetchone()[0]


def common_frequency(documents: int) -> int:
    """Above this many documents a word is common (see COMMON_SHARE)."""
    return int(max(COMMON_SHARE * documents, COMMON_MIN_DOCUMENTS))


def informative_groups(
    groups: list[list[str]], frequencies: dict[str, int], documents: int, max_postings: int | None = None
) -> list[list[str]]:
    """The groups worth an any-word query, in their original order.

    A group's frequency is the sum over its words (an upper bound of the documents it matches).
    A group no document contains as a whole word (a word segmented otherwise in the index, which
    only the bigram column finds) is kept: its cost is unknown, its value may be high. Common
    groups are dropped unless nothing else is left (then the rarest stays, so a query of common
    words still finds something).

    ``max_postings`` bounds the work: groups are taken rarest first while their frequencies add up
    to at most that many postings. The words left out are the most common of the text, those BM25
    weighs least; in a small index nothing is left out (every posting list is short).
    """
    known, unknown = [], []
    for position, group in enumerate(groups):
        frequency = sum(frequencies.get(term, 0) for term in group)
        (known if frequency else unknown).append((frequency, position))
    if not known:
        return groups
    common = common_frequency(documents)
    kept = sorted(item for item in known if item[0] <= common)
    if not kept and not unknown:
        kept = [min(known)]
    if max_postings is not None:
        total, within = 0, []
        for frequency, position in kept:
            if within and total + frequency > max_postings:
                break
            total += frequency
            within.append((frequency, position))
        kept = within
    return [groups[position] for position in sorted(position for _, position in kept + unknown)]
