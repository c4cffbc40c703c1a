"""Own SMPP 3.4 client: sans-IO codec (`pdu`, `frame`, `tlv`), status table, text coding."""
