"""The one table of stage changes: which (from, to) moves exist, who may make them, what they need.

Decisions kept here, not spread over views:
- forward one step at a time, by the deal's broker or an admin;
- back one step by the broker (a slip of the mouse, a negotiation reopened), further back by an admin only;
- any open stage may end in LOST, with a coded reason (OTHER needs a text);
- to SIGNED the expected value (预计成交额) must be known: it feeds the pipeline's totals;
- to REGISTERED a technology contract must be linked to the deal (认定登记 is of a contract): refused
  with a message otherwise;
- a closed deal is reopened (WON → PERFORMING, LOST → any open stage) by an admin only.
Participants never move stages; they take part through the conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from marketplace.deals.models import OPEN_STAGES, DealStage

BROKER = "broker"  # the deal's own, active broker
ADMIN = "admin"

NEEDS_REASON = "reason"
NEEDS_VALUE = "value"
NEEDS_CONTRACT = "contract"


@dataclass(frozen=True)
class Move:
    actors: frozenset[str]
    needs: frozenset[str] = frozenset()
    backwards: bool = False


def _table() -> dict[tuple[str, str], Move]:
    either, admin_only = frozenset({BROKER, ADMIN}), frozenset({ADMIN})
    pipeline = (*OPEN_STAGES, DealStage.WON)
    needs = {DealStage.SIGNED: frozenset({NEEDS_VALUE}), DealStage.REGISTERED: frozenset({NEEDS_CONTRACT})}
    table: dict[tuple[str, str], Move] = {}
    for earlier, later in pairwise(pipeline):
        table[(earlier, later)] = Move(either, needs.get(later, frozenset()))
    for position, later in enumerate(OPEN_STAGES):
        for distance, earlier in enumerate(reversed(OPEN_STAGES[:position]), start=1):
            table[(later, earlier)] = Move(either if distance == 1 else admin_only, backwards=True)
        table[(later, DealStage.LOST)] = Move(either, frozenset({NEEDS_REASON}))
        table[(DealStage.LOST, later)] = Move(admin_only, backwards=True)
    table[(DealStage.WON, DealStage.PERFORMING)] = Move(admin_only, backwards=True)
    return table


TRANSITIONS: dict[tuple[str, str], Move] = _table()


def move(from_stage: str, to_stage: str) -> Move | None:
    return TRANSITIONS.get((from_stage, to_stage))


def targets(from_stage: str, actors: set[str]) -> list[str]:
    """The stages someone acting as ``actors`` may move a deal at ``from_stage`` to, pipeline order."""
    order = (*OPEN_STAGES, DealStage.WON, DealStage.LOST)
    return [
        stage for stage in order if (rule := TRANSITIONS.get((from_stage, stage))) is not None and rule.actors & actors
    ]
