"""Own SMPP 3.4 client: sans-IO codec (`pdu`, `tlv`), status table, text coding."""
