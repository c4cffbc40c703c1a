"""E-mail: the sender that drains the database's e-mail outbox (`sender.py`), the
message it builds (`compose.py`) and where it hands it (`transport.py`: an SMTP server,
or `.eml` files when none is configured). It reaches the outbox through
`service_workers.Operations`, never the store."""
