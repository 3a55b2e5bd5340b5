"""DEX and settlement adapters. The engine sees only :mod:`adapters.base` and :mod:`adapters.registry`."""
