"""Synonym groups and their expansion over token sequences.

Pure functions and one small class, with no state of their own: :mod:`search.analysis`
owns the lazily built table and passes in its tokenizer, so that a synonym is matched in
exactly the token form the index holds (a member such as ``偏心振动`` may be one token or
two depending on the dictionary, and the table does not need to know which).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence


class SynonymFileError(ValueError):
    """A line of synonyms.txt is malformed; raised at load so a bad edit fails loudly."""


def parse_groups(lines: Iterable[str]) -> list[tuple[str, ...]]:
    """Parse synonym groups: one per line, comma-separated, ``#`` starts a comment.

    Strict on purpose (empty member, single-member group, duplicate in a group): a silently
    half-parsed group would change ranking without anyone noticing.
    """
    groups: list[tuple[str, ...]] = []
    for lineno, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        members = tuple(m.strip() for m in line.replace("，", ",").split(","))
        if any(not m for m in members):
            raise SynonymFileError(f"line {lineno}: empty member in {raw.strip()!r}")
        if len(members) < 2:
            raise SynonymFileError(f"line {lineno}: a group needs two members: {raw.strip()!r}")
        if len(set(members)) != len(members):
            raise SynonymFileError(f"line {lineno}: duplicate member in {raw.strip()!r}")
        groups.append(members)
    return groups


class SynonymTable:
    """Maps token sequences to the token sequences of their synonyms.

    Members are stored as token tuples so that multi-token members match consecutive
    query tokens. A member belonging to several groups expands to all of them, which keeps
    the relation symmetric pair by pair.
    """

    def __init__(self, groups: Sequence[Sequence[str]], tokenize: Callable[[str], list[str]]) -> None:
        self._expansions: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for group in groups:
            keys = [tuple(tokenize(member)) for member in group]
            for key in keys:
                if not key:
                    # A member made only of stopwords could never be matched.
                    raise SynonymFileError(f"member of {group!r} has no tokens")
                bucket = self._expansions.setdefault(key, [])
                bucket.extend(k for k in keys if k != key and k not in bucket)
        self.max_len = max((len(k) for k in self._expansions), default=0)

    def __contains__(self, key: tuple[str, ...]) -> bool:
        return key in self._expansions

    def expand(self, tokens: Sequence[str]) -> list[str]:
        """Return ``tokens`` unchanged followed by the synonym tokens they bring in.

        Added tokens are deduplicated and never repeat an original token, so the original
        query keeps its own term frequencies and a synonym cannot outweigh it. From a
        synonym of several tokens, single characters are left out: the expansion is a bag
        of words, and a lone 纯 or 省 out of 纯电动车 or 省电 would match almost anything.
        """
        result = list(tokens)
        seen = set(result)
        for start in range(len(tokens)):
            for length in range(1, min(self.max_len, len(tokens) - start) + 1):
                for synonym in self._expansions.get(tuple(tokens[start : start + length]), ()):
                    for token in synonym:
                        if len(synonym) > 1 and len(token) < 2:
                            continue
                        if token not in seen:
                            seen.add(token)
                            result.append(token)
        return result
