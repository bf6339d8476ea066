"""The topic registry (``schemas/topics.yaml``) and making Kafka match it."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tickflow.runtime.config import PROJECT_ROOT

SCHEMAS_DIR = PROJECT_ROOT / "schemas"
REGISTRY = SCHEMAS_DIR / "topics.yaml"


@dataclass(frozen=True)
class TopicSpec:
    """One declared topic."""

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)
    key: str = ""
    schema: str | None = None
    description: str = ""

    def schema_path(self) -> Path | None:
        return SCHEMAS_DIR / self.schema if self.schema else None

    def load_schema(self) -> dict | None:
        path = self.schema_path()
        return json.loads(path.read_text()) if path else None


def load_registry(path: Path = REGISTRY) -> dict[str, TopicSpec]:
    """Read the registry; every config value becomes a string, as Kafka wants it."""
    doc = yaml.safe_load(path.read_text())
    rf = int(doc.get("defaults", {}).get("replication_factor", 1))
    specs: dict[str, TopicSpec] = {}
    for name, t in doc["topics"].items():
        specs[name] = TopicSpec(
            name=name,
            partitions=int(t["partitions"]),
            replication_factor=int(t.get("replication_factor", rf)),
            config={k: str(v) for k, v in (t.get("config") or {}).items()},
            key=t.get("key", ""),
            schema=t.get("schema"),
            description=t.get("description", ""),
        )
    return specs


def ensure_topics(bootstrap: str, specs: dict[str, TopicSpec]) -> list[str]:
    """Create missing topics, raise partition counts and apply configs. Returns what was changed."""
    from kafka.admin import (
        ConfigResource,
        ConfigResourceType,
        KafkaAdminClient,
        NewPartitions,
        NewTopic,
    )

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="tickflow-topics",
                             request_timeout_ms=15000)
    changes: list[str] = []
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs.values() if s.name not in existing]
        if missing:
            admin.create_topics([NewTopic(s.name, s.partitions, s.replication_factor, topic_configs=s.config)
                                 for s in missing])
            changes += [f"created {s.name} ({s.partitions} partitions)" for s in missing]
        present = [s for s in specs.values() if s.name in existing]
        if present:
            described = {d["name"]: len(d["partitions"]) for d in admin.describe_topics([s.name for s in present])}
            grow = {s.name: NewPartitions(s.partitions) for s in present if described[s.name] < s.partitions}
            if grow:
                admin.create_partitions(grow)
                changes += [f"raised {n} to {p.total_count} partitions" for n, p in grow.items()]
            resources = [ConfigResource(ConfigResourceType.TOPIC, s.name, configs=s.config)
                         for s in present if s.config]
            if resources:
                # incremental would be kinder to manual overrides, but the registry is the source of truth
                admin.alter_configs(resources)
    finally:
        admin.close()
    return changes


def describe_topics(bootstrap: str, names: list[str]) -> dict[str, dict]:
    """Partitions and configs of existing topics, as Kafka reports them."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="tickflow-describe")
    try:
        parts = {d["name"]: len(d["partitions"]) for d in admin.describe_topics(names)}
        out: dict[str, dict] = {n: {"partitions": parts.get(n), "config": {}} for n in names}
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
        for name, entries in configs.get("topic", {}).items():
            out[name]["config"] = {k: v["value"] for k, v in entries.items()}
    finally:
        admin.close()
    return out
