"""tickflow: PyFlink stream processing for market data (CLI, settings, local stack, Flink runtime)."""

__version__ = "0.1.0"
