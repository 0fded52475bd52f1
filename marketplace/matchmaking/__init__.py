"""Matchmaking: strong demand–achievement pairs found when listings are published, the alerts
sent to the owners of strong matches, and the brokers' dashboard of pairs to follow up."""
