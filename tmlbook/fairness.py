"""L13: demographic parity and equalised odds."""
