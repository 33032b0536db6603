"""Configuration: sources and precedence, the server-instance schema, references, ports and secret masking."""
