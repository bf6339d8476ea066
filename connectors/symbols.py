"""One symbol map for every provider: tickflow's names ↔ each provider's tickers."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SymbolMap:
    """``to_provider`` maps tickflow symbols to the provider's; symbols not listed map to themselves."""

    provider: str
    to_provider_names: dict[str, str] = field(default_factory=dict)

    def to_provider(self, symbol: str) -> str:
        return self.to_provider_names.get(symbol, symbol)

    def to_tickflow(self, provider_symbol: str) -> str:
        for ours, theirs in self.to_provider_names.items():
            if theirs == provider_symbol:
                return ours
        return provider_symbol
