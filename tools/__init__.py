"""Command-line tools on top of the service: ``oee`` itself, the demo, the benchmark and the wallet command."""
