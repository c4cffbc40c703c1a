"""Delivery over SMPP: links, the dispatcher, receipts and the supervisor."""
