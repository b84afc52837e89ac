"""Small JSON schemas of the custom resources the program writes, with the fields it uses.

Field names and types as documented at the pinned versions (docs/pins.md): KEDA v2.20
(ScaledObject and TriggerAuthentication, ``keda.sh/v1alpha1``; the ``redis`` scaler's metadata
are strings) and External Secrets ``external-secrets.io/v1`` (SecretStore with the ``gcpsm``
provider, ExternalSecret). ``additionalProperties: false`` so a misspelt field fails here, as
the API server's structural schema would prune or refuse it.
"""

from __future__ import annotations

from typing import Any


def obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


STR = {"type": "string"}
INT = {"type": "integer"}
METADATA = obj(["name", "namespace"], name=STR, namespace=STR)
NAME_REF = obj(["name"], name=STR)
HPA_RULES = obj(
    ["policies"],
    stabilizationWindowSeconds=INT,
    selectPolicy={"enum": ["Max", "Min", "Disabled"]},
    policies={
        "type": "array",
        "items": obj(["type", "value", "periodSeconds"], type={"enum": ["Pods", "Percent"]}, value=INT, periodSeconds=INT),
    },
)

SCALED_OBJECT = obj(
    ["apiVersion", "kind", "metadata", "spec"],
    apiVersion={"const": "keda.sh/v1alpha1"},
    kind={"const": "ScaledObject"},
    metadata=METADATA,
    spec=obj(
        ["scaleTargetRef", "triggers"],
        scaleTargetRef=NAME_REF,
        minReplicaCount=INT,
        maxReplicaCount=INT,
        pollingInterval=INT,
        cooldownPeriod=INT,
        # AdvancedConfig.horizontalPodAutoscalerConfig.behavior: autoscaling/v2 HPAScalingRules.
        advanced=obj(
            [],
            horizontalPodAutoscalerConfig=obj(
                [],
                behavior=obj([], scaleUp=HPA_RULES, scaleDown=HPA_RULES),
            ),
        ),
        triggers={
            "type": "array",
            "minItems": 1,
            "items": obj(
                ["type", "metadata"],
                type={"const": "redis"},
                name=STR,
                metricType={"enum": ["AverageValue", "Value", "Utilization"]},
                metadata=obj(
                    ["address", "listName", "listLength"],
                    address=STR,
                    listName=STR,
                    listLength={"type": "string", "pattern": "^[0-9]+$"},
                    activationListLength={"type": "string", "pattern": "^[0-9]+$"},
                    databaseIndex={"type": "string", "pattern": "^[0-9]+$"},
                    enableTLS={"enum": ["true", "false"]},
                ),
                authenticationRef=NAME_REF,
            ),
        },
    ),
)

TRIGGER_AUTHENTICATION = obj(
    ["apiVersion", "kind", "metadata", "spec"],
    apiVersion={"const": "keda.sh/v1alpha1"},
    kind={"const": "TriggerAuthentication"},
    metadata=METADATA,
    # GCPSecretManager at v2.20 (apis/keda/v1alpha1/triggerauthentication_types.go): secrets,
    # credentials or podIdentity inside it; no project field (the operator's own project).
    spec=obj(
        ["gcpSecretManager"],
        gcpSecretManager=obj(
            ["secrets"],
            secrets={
                "type": "array",
                "minItems": 1,
                "items": obj(["parameter", "id"], parameter=STR, id=STR, version=STR),
            },
            podIdentity=obj(["provider"], provider={"const": "gcp"}),
        ),
    ),
)

# Managed Service for Prometheus, monitoring.googleapis.com/v1 PodMonitoring (PodMonitoringSpec:
# selector is a metav1.LabelSelector; endpoints[] ScrapeEndpoint: port, path, interval).
LABEL_REQUIREMENT = obj(["key", "operator"], key=STR, operator={"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                        values={"type": "array", "items": STR})
POD_MONITORING = obj(
    ["apiVersion", "kind", "metadata", "spec"],
    apiVersion={"const": "monitoring.googleapis.com/v1"},
    kind={"const": "PodMonitoring"},
    metadata=METADATA,
    spec=obj(
        ["selector", "endpoints"],
        selector=obj([], matchLabels={"type": "object"}, matchExpressions={"type": "array", "items": LABEL_REQUIREMENT}),
        endpoints={
            "type": "array",
            "minItems": 1,
            "items": obj(["port"], port={"type": ["string", "integer"]}, path=STR,
                         interval={"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"}),
        },
    ),
)

SECRET_STORE = obj(
    ["apiVersion", "kind", "metadata", "spec"],
    apiVersion={"const": "external-secrets.io/v1"},
    kind={"const": "SecretStore"},
    metadata=METADATA,
    spec=obj(
        ["provider"],
        provider=obj(
            ["gcpsm"],
            gcpsm=obj(
                ["projectID", "auth"],
                projectID=STR,
                auth=obj(
                    ["workloadIdentity"],
                    workloadIdentity=obj(
                        ["serviceAccountRef"],
                        clusterLocation=STR,
                        clusterName=STR,
                        serviceAccountRef=NAME_REF,
                    ),
                ),
            ),
        ),
    ),
)

EXTERNAL_SECRET = obj(
    ["apiVersion", "kind", "metadata", "spec"],
    apiVersion={"const": "external-secrets.io/v1"},
    kind={"const": "ExternalSecret"},
    metadata=METADATA,
    spec=obj(
        ["secretStoreRef", "target", "data"],
        refreshInterval={"type": "string", "pattern": "^[0-9]+[smh]$"},
        secretStoreRef=obj(["name"], name=STR, kind={"enum": ["SecretStore", "ClusterSecretStore"]}),
        target=obj(["name"], name=STR, creationPolicy={"enum": ["Owner", "Orphan", "Merge", "None"]}),
        data={
            "type": "array",
            "items": obj(["secretKey", "remoteRef"], secretKey=STR, remoteRef=obj(["key"], key=STR, version=STR)),
        },
    ),
)

BY_KIND = {
    "ScaledObject": SCALED_OBJECT,
    "TriggerAuthentication": TRIGGER_AUTHENTICATION,
    "PodMonitoring": POD_MONITORING,
    "SecretStore": SECRET_STORE,
    "ExternalSecret": EXTERNAL_SECRET,
}
