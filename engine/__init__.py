"""Order execution engine: accepts swap orders, routes them across DEXes, settles and streams them."""

__version__ = "0.1.0"
