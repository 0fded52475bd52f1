"""Chinese text analysis shared by every search backend.

Text is segmented here, in Python, and sent pre-segmented (see :func:`segmented`) to both
the embedded SQLite FTS5 index and Elasticsearch, so the two backends see the same tokens
and rank alike. Everything expensive (jieba's dictionary, OpenCC's tables, our data
files) loads lazily, once per process, behind a lock: importing this module does no work.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from search.synonyms import SynonymTable, parse_groups

if TYPE_CHECKING:
    import jieba
    from opencc import OpenCC

__all__ = [
    "bigrams",
    "expand_synonyms",
    "general_idf",
    "get_tokenizer",
    "normalise",
    "query_tokens",
    "segmented",
    "tokenize",
]

# CJK ideographs: Extension A, the URO, compatibility ideographs and the supplementary
# planes (OpenCC can produce Extension B characters).
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# A "word" outside CJK: letters and digits of any script, joined by - . + / (D-2, pm2.5,
# gb/t, m3/h), optionally followed by a unit that NFKC leaves as a symbol (80℃ -> 80°c).
_W = rf"[^\W_{_CJK}]"
_SEGMENT_RE = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>{_W}+(?:[-+./]{_W}+)*(?:\s?(?:°[cf]?|%|‰))?)")
_SPACE_RE = re.compile(r"\s+")

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None
_converter: OpenCC | None = None
_t2s_triggers: frozenset[str] | None = None
_synonyms: SynonymTable | None = None


def data_lines(name: str) -> list[str]:
    """Lines of a data file shipped in ``search/data``, comments and blanks removed.

    importlib.resources rather than a path next to ``__file__`` so it works from a wheel.
    """
    text = resources.files("search").joinpath("data", name).read_text(encoding="utf-8")
    return [s for line in text.splitlines() if (s := line.split("#", 1)[0].strip())]


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Tokens that carry no topic in this domain (function words, listing boilerplate)."""
    return frozenset(data_lines("stopwords.txt"))


def domain_terms() -> list[tuple[str, int | None, str | None]]:
    """Parse domain_dict.txt (jieba user-dict format ``word [freq] [tag]``)."""
    terms = []
    for line in data_lines("domain_dict.txt"):
        parts = line.split()
        if len(parts) > 3 or (len(parts) > 1 and not parts[1].isdigit()):
            raise ValueError(f"domain_dict.txt: malformed line {line!r}")
        freq = int(parts[1]) if len(parts) > 1 else None
        terms.append((parts[0], freq, parts[2] if len(parts) > 2 else None))
    return terms


def _build_tokenizer() -> jieba.Tokenizer:
    import jieba  # deferred: importing jieba alone loads its HMM tables (~0.2 s)

    # jieba logs its dictionary build at DEBUG to stderr in every worker process.
    logging.getLogger("jieba").setLevel(logging.WARNING)
    # Our own instance, not jieba's global one: other code in the process (or a library)
    # may add words to the global dictionary, and our index must not shift under it.
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word, freq, tag in domain_terms():
        tokenizer.add_word(word, freq, tag)
    return tokenizer


def get_tokenizer() -> jieba.Tokenizer:
    """The process-wide jieba tokenizer with the domain dictionary, built on first use."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                _tokenizer = _build_tokenizer()
    return _tokenizer


def _load_converter() -> tuple[OpenCC, frozenset[str] | None]:
    from opencc import OpenCC

    return OpenCC("t2s"), _t2s_trigger_chars()


def _t2s_trigger_chars() -> frozenset[str] | None:
    """Characters without which OpenCC's t2s conversion cannot change a text.

    Nearly all our text is already simplified, and the pure-Python converter is slower
    than jieba; skipping texts without any of these characters keeps it off the hot path
    while giving the same result. Returns None (always convert) if the tables move.
    """
    try:
        folder = resources.files("opencc").joinpath("dictionary")
        chars: set[str] = set()
        for name in ("TSCharacters.txt", "TSPhrases.txt"):
            for line in folder.joinpath(name).read_text(encoding="utf-8").splitlines():
                key, _, value = line.partition("\t")
                value = value.split(" ")[0]
                if key == value:
                    continue
                if len(key) == len(value):
                    chars.update(k for k, v in zip(key, value, strict=True) if k != v)
                else:
                    chars.update(key)
    except (OSError, ValueError):
        return None
    return frozenset(chars) or None


def _to_simplified(text: str) -> str:
    global _converter, _t2s_triggers
    if _converter is None:
        with _lock:
            if _converter is None:
                converter, triggers = _load_converter()
                # Triggers first: other threads read them once _converter is set.
                _t2s_triggers = triggers
                _converter = converter
    if _t2s_triggers is not None and _t2s_triggers.isdisjoint(text):
        return text
    return _converter.convert(text)


def normalise(text: str) -> str:
    """NFKC, lowercase, Traditional to Simplified Chinese, single spaces.

    NFKC folds full-width letters, digits and punctuation (ＩＭＯ　Ｄ－２ -> IMO D-2),
    which Chinese input methods produce freely; lowercasing makes Latin terms match
    whatever their case; Traditional input (Taiwan, Hong Kong, older documents) must find
    the same listings as Simplified.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACE_RE.sub(" ", _to_simplified(text)).strip()


def _raw_tokens(normalised: str) -> Iterable[str]:
    # HMM off: jieba's HMM glues runs of unknown characters into new "words", and which
    # words it invents depends on the surrounding text, so a short query and a long
    # document split the same phrase differently. Without it unknown words fall apart
    # into characters, which match consistently (and matching-dev ranks better).
    tokenizer = get_tokenizer()
    for match in _SEGMENT_RE.finditer(normalised):
        if match.lastgroup == "cjk":
            yield from tokenizer.cut(match.group(), HMM=False)
        else:
            yield match.group().replace(" ", "")


def tokenize(text: str) -> list[str]:
    """Index-time tokens: normalised jieba words plus Latin/number words, stopwords out.

    Punctuation and whitespace never become tokens; repeated tokens are kept because
    BM25 needs term frequency.
    """
    stop = stopwords()
    return [t for t in _raw_tokens(normalise(text)) if t not in stop and not t.isspace()]


def segmented(text: str) -> str:
    """Tokens joined by single spaces: what the backends index with a whitespace analyzer."""
    return " ".join(tokenize(text))


def general_idf(token: str) -> float:
    """An inverse document frequency proxy from general-language word frequencies.

    jieba's dictionary counts words over a large general corpus; log(total / count) ranks
    function and everyday words (中, 方法, 问题) low and technical words high. It is the cheap
    stand-in for an index's own statistics where a backend does not expose them: loaded anyway
    for segmentation, no extra memory. Words the dictionary lacks count as rare.
    """
    tokenizer = get_tokenizer()
    count = tokenizer.FREQ.get(token) or 0
    return math.log(tokenizer.total / count) if count > 0 else math.log(tokenizer.total)


def _synonym_table() -> SynonymTable:
    global _synonyms
    if _synonyms is None:
        table = SynonymTable(parse_groups(data_lines("synonyms.txt")), tokenize)
        with _lock:
            if _synonyms is None:
                _synonyms = table
    return _synonyms


def expand_synonyms(tokens: Iterable[str]) -> list[str]:
    """Tokens followed by the synonyms they bring in (deduplicated, originals first).

    This is how a plant manager's 保温 finds a listing that says 隔热: the query grows,
    the index does not, so changing a synonym needs no reindex.
    """
    return _synonym_table().expand(list(tokens))


def query_tokens(text: str) -> list[str]:
    """Query-time tokens: :func:`tokenize` plus synonym expansion."""
    return expand_synonyms(tokenize(text))


def bigrams(text: str) -> list[str]:
    """Overlapping CJK character bigrams plus Latin/number words, for a recall sub-field.

    Like Elasticsearch's ``cjk`` analyzer: it matches where segmentation disagrees between
    query and document (养殖工船 inside 深远海养殖工船). A lone CJK character is kept as is.
    """
    grams: list[str] = []
    for match in _SEGMENT_RE.finditer(normalise(text)):
        run = match.group()
        if match.lastgroup == "cjk":
            grams.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
        else:
            grams.append(run.replace(" ", ""))
    return grams
