"""Inquiries (咨询): message threads between a visitor and a listing's owner."""
