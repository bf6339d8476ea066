"""The one registry of tickflow's Flink jobs: what each is called, where its code is, what it reads.

The CLI (`tickflow run|submit|jobs`), the demo, the Kubernetes generation, the savepoint error messages
and the benchmarks read this list; each job module takes its name, inputs, consumer group and operator
uids from its entry here, so they cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    """One Flink job of tickflow's."""

    module: str                       # jobs/<module>.py; also the name the CLI takes
    name: str                         # the Flink job name, and its FlinkDeployment's name
    input_topics: tuple[str, ...]     # what its consumer group reads
    group_id: str                     # its consumer group by default
    uids: tuple[str, ...] = ()        # uids of the stateful operators it names itself (savepoint errors)
    deployed: bool = True             # runs in production (k8s/); False: a reference or test job


def _uid(name: str, operator: str) -> str:
    return f"{name}-{operator}"


TRADE_PASSTHROUGH = Job("trade_passthrough", "trade-passthrough", ("md.raw.trades",),
                        "tickflow-trade-passthrough", deployed=False)
MARKET_DATA_PROCESSOR = Job("market_data_processor", "market-data-processor", ("md.raw.trades", "md.raw.quotes"),
                            "tickflow-market-data-processor", (_uid("market-data-processor", "bar-book"),))
INDICATORS = Job("indicators", "indicators", ("md.bars",), "tickflow-indicators", (_uid("indicators", "jvm-series"),))
STORAGE_WRITER = Job("storage_writer", "storage-writer", ("md.bars", "md.indicators", "md.quotes", "md.raw.trades"),
                     "tickflow-storage-writer", (_uid("storage-writer", "first-copies"),))
DATA_QUALITY = Job("data_quality", "data-quality", ("md.raw.trades",), "tickflow-data-quality",
                   (_uid("data-quality", "tracker"), _uid("data-quality", "straggler-batches"),
                    _uid("data-quality", "first-copies")))

JOBS: tuple[Job, ...] = (TRADE_PASSTHROUGH, MARKET_DATA_PROCESSOR, INDICATORS, STORAGE_WRITER, DATA_QUALITY)
BY_MODULE: dict[str, Job] = {job.module: job for job in JOBS}
# the pipeline in the order the demo runs it (each reads what the one before wrote)
PIPELINE: tuple[Job, ...] = (MARKET_DATA_PROCESSOR, INDICATORS, STORAGE_WRITER, DATA_QUALITY)


def job(module: str) -> Job:
    """The job whose code is jobs/<module>.py (KeyError names the choices)."""
    try:
        return BY_MODULE[module]
    except KeyError:
        raise KeyError(f"unknown job {module!r} (choose from {', '.join(BY_MODULE)})") from None
