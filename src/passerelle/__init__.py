"""Passerelle: an SMS gateway serving the Connect-Mobile HTTP SMS API over SMPP."""

from __future__ import annotations

__version__ = "0.1.0"
