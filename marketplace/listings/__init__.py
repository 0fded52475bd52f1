"""Listings: achievements (科技成果), demands (技术需求), open challenges, attachments, import/export."""
