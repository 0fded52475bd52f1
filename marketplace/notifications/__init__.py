"""Notifications: the in-app notification centre and the email channel behind one interface."""
