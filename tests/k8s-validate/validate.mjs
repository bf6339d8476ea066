// Reads a JSON array of Kubernetes resources on stdin; prints one JSON line per resource:
// {"kind", "name", "ok", "error"} — validated against the schema of its kind in kubernetes-models: the CRD
// schemas of Strimzi and the Prometheus Operator, and Kubernetes' own API for the built-in kinds.
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Job } from "kubernetes-models/batch/v1/Job";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { KafkaTopic } from "@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1beta2/KafkaTopic";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";

const MODELS = {
  "apps/v1/Deployment": Deployment,
  "batch/v1/Job": Job,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "v1/ConfigMap": ConfigMap,
  "kafka.strimzi.io/v1beta2/KafkaTopic": KafkaTopic,
  "monitoring.coreos.com/v1/PodMonitor": PodMonitor,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
for (const doc of JSON.parse(input)) {
  const model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  const name = doc.metadata?.name ?? "";
  if (!model) {
    console.log(JSON.stringify({ kind: doc.kind, name, ok: false, error: `no schema for ${doc.apiVersion} ${doc.kind}` }));
    continue;
  }
  try {
    new model(doc).validate();
    console.log(JSON.stringify({ kind: doc.kind, name, ok: true }));
  } catch (err) {
    console.log(JSON.stringify({ kind: doc.kind, name, ok: false, error: String(err.message ?? err).split("\n").slice(0, 3).join(" ") }));
  }
}
