"""Storage adapters behind the `Store` protocol (`base.py`; values in `core/values.py`)."""
