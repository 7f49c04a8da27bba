"""Reusable console widgets: resource tables, command bar, confirmations, bars."""
