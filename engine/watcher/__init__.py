"""Watching waiting (limit and sniper) orders: one loop per pair, one process per pair, firing exactly once."""
