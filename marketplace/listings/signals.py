"""Signals other features subscribe to instead of being called from listings' services.

``listing_changed`` fires inside the transaction of every change to a listing (create, edit,
review decision, archive, delete, import), with ``action`` naming it. The search feature listens
to write its outbox row in the same transaction; deals or statistics can listen the same way.
"""

from blinker import Namespace

_signals = Namespace()

listing_changed = _signals.signal("listing-changed")

# Fires inside the transaction in which a challenge's owner picks the winning application
# (sender: the ChallengeApplication, ``actor``: who picked it); deals listens to open a lead.
challenge_winner_picked = _signals.signal("challenge-winner-picked")
