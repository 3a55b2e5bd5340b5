"""DEX and settlement adapters. The engine sees only :mod:`kernel.venues` and :mod:`adapters.registry`."""
