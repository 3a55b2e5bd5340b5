"""The DEXes whose pools the engine routes through, one package each, every one of the same shape (config, pure
layouts and math, the I/O client, the adapter, the pair watcher). They never import each other."""
