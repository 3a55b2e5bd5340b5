"""The Solana toolkit every on-chain adapter shares: RPC client, error classification, SPL helpers and
transaction building. It knows no DEX and no settlement policy."""
