"""The parts of Mesos's v1 protos that devcluster reads or writes, in declaration order.

Each message is one line of `field:type` tokens. A type is a primitive (string, bytes,
double, bool, int32, int64, uint32, uint64), an enum (`@Name`), a message name, `any`
(accepted unchecked), or `{T}` for map<string, T>. Suffixes: `!` required, `*` repeated,
`=default` for proto2 defaults that Mesos writes back (`=true`, `=5.0`, `=VALUE`).
"""

from __future__ import annotations

from dataclasses import dataclass


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


ENUMS: dict[str, frozenset[str]] = {
    "CallType": _names(
        "ACCEPT ACCEPT_INVERSE_OFFERS ACKNOWLEDGE ACKNOWLEDGE_OPERATION_STATUS DECLINE "
        "DECLINE_INVERSE_OFFERS KILL MESSAGE RECONCILE RECONCILE_OPERATIONS REQUEST REVIVE "
        "SHUTDOWN SUBSCRIBE SUPPRESS TEARDOWN UNKNOWN UPDATE_FRAMEWORK"
    ),
    "MasterCallType": _names(
        "CREATE_VOLUMES DEACTIVATE_AGENT DESTROY_VOLUMES DRAIN_AGENT GET_AGENTS GET_EXECUTORS "
        "GET_FLAGS GET_FRAMEWORKS GET_HEALTH GET_LOGGING_LEVEL GET_MAINTENANCE_SCHEDULE "
        "GET_MAINTENANCE_STATUS GET_MASTER GET_METRICS GET_OPERATIONS GET_QUOTA GET_ROLES "
        "GET_STATE GET_TASKS GET_VERSION GET_WEIGHTS GROW_VOLUME LIST_FILES MARK_AGENT_GONE "
        "REACTIVATE_AGENT READ_FILE REMOVE_QUOTA RESERVE_RESOURCES SET_LOGGING_LEVEL "
        "SET_QUOTA SHRINK_VOLUME START_MAINTENANCE STOP_MAINTENANCE SUBSCRIBE TEARDOWN "
        "UNKNOWN UNRESERVE_RESOURCES UPDATE_MAINTENANCE_SCHEDULE UPDATE_QUOTA UPDATE_WEIGHTS"
    ),
    "OperationType": _names(
        "CREATE CREATE_DISK DESTROY DESTROY_DISK GROW_VOLUME LAUNCH LAUNCH_GROUP RESERVE "
        "SHRINK_VOLUME UNKNOWN UNRESERVE"
    ),
    "ValueType": _names("RANGES SCALAR SET TEXT"),
    "FrameworkCapability": _names(
        "GPU_RESOURCES MULTI_ROLE PARTITION_AWARE REGION_AWARE RESERVATION_REFINEMENT "
        "REVOCABLE_RESOURCES SHARED_RESOURCES TASK_KILLING_STATE UNKNOWN"
    ),
    "ContainerType": _names("DOCKER MESOS"),
    "DockerNetwork": _names("BRIDGE HOST NONE USER"),
    "VolumeMode": _names("RO RW"),
    "VolumeSourceType": _names("CSI_VOLUME DOCKER_VOLUME HOST_PATH SANDBOX_PATH SECRET UNKNOWN"),
    "HealthCheckType": _names("COMMAND HTTP TCP UNKNOWN"),
    "CheckType": _names("COMMAND HTTP TCP UNKNOWN"),
    "VariableType": _names("SECRET UNKNOWN VALUE"),
    "Visibility": _names("CLUSTER EXTERNAL FRAMEWORK"),
    "ExecutorType": _names("CUSTOM DEFAULT UNKNOWN"),
    "ImageType": _names("APPC DOCKER"),
    "ReservationType": _names("DYNAMIC STATIC UNKNOWN"),
    "Protocol": _names("IPv4 IPv6"),
    "PseudoattributeType": _names("HOSTNAME REGION UNKNOWN ZONE"),
    "SecretType": _names("REFERENCE UNKNOWN VALUE"),
}

_MESSAGES = {
    # Ids and small wrappers.
    "ID": "value:string!",
    "DurationInfo": "nanoseconds:int64!",
    "TimeInfo": "nanoseconds:int64!",
    "Label": "key:string! value:string",
    "Labels": "labels:Label*",
    "Filters": "refuse_seconds:double=5.0",
    "Scalar": "value:double!",
    "Range": "begin:uint64! end:uint64!",
    "Ranges": "range:Range*",
    "Set": "item:string*",
    "Text": "value:string!",
    # Resources.
    "AllocationInfo": "role:string",
    "ReservationInfo": "type:@ReservationType role:string principal:string labels:Labels",
    "Resource": (
        "provider_id:ID name:string! type:@ValueType! scalar:Scalar ranges:Ranges set:Set "
        "role:string allocation_info:AllocationInfo reservation:ReservationInfo "
        "reservations:ReservationInfo* disk:any revocable:any shared:any"
    ),
    "Attribute": "name:string! type:@ValueType! scalar:Scalar ranges:Ranges set:Set text:Text",
    # Framework.
    "Capability": "type:@FrameworkCapability",
    "OfferFilters": "min_allocatable_resources:MinAllocatable",
    "MinAllocatable": "quantities:Quantities*",
    "Quantities": "quantities:{Scalar}",
    "FrameworkInfo": (
        "user:string! name:string! id:ID failover_timeout:double=0.0 checkpoint:bool=false "
        "role:string roles:string* hostname:string principal:string webui_url:string "
        "capabilities:Capability* labels:Labels offer_filters:{OfferFilters}"
    ),
    "Selector": "pseudoattribute_type:@PseudoattributeType attribute_name:string",
    "TextPredicate": "value:string",
    "RegexPredicate": "regex:string",
    "Predicate": (
        "exists:any not_exists:any text_equals:TextPredicate text_not_equals:TextPredicate "
        "text_matches:RegexPredicate text_not_matches:RegexPredicate"
    ),
    "AttributeConstraint": "selector:Selector predicate:Predicate",
    "ConstraintGroup": "attribute_constraints:AttributeConstraint*",
    "RoleConstraints": "groups:ConstraintGroup*",
    "OfferConstraints": "role_constraints:{RoleConstraints}",
    # Tasks.
    "URI": ("value:string! executable:bool extract:bool=true cache:bool output_file:string"),
    "Secret": "type:@SecretType reference:any value:any",
    "Variable": "name:string! type:@VariableType=VALUE value:string secret:Secret",
    "Environment": "variables:Variable*",
    "CommandInfo": (
        "uris:URI* environment:Environment shell:bool=true value:string arguments:string* "
        "user:string"
    ),
    "PortMapping": "host_port:uint32! container_port:uint32! protocol:string",
    "Parameter": "key:string! value:string!",
    "DockerInfo": (
        "image:string! network:@DockerNetwork=HOST port_mappings:PortMapping* "
        "privileged:bool=false parameters:Parameter* force_pull_image:bool volume_driver:string"
    ),
    "DockerImage": "name:string! credential:any config:any",
    "Image": "type:@ImageType! appc:any docker:DockerImage cached:bool=true",
    "MesosInfo": "image:Image",
    "VolumeSource": (
        "type:@VolumeSourceType docker_volume:any host_path:any sandbox_path:any secret:any "
        "csi_volume:any"
    ),
    "Volume": (
        "mode:@VolumeMode container_path:string! host_path:string image:Image source:VolumeSource"
    ),
    "IPAddress": "protocol:@Protocol=IPv4 ip_address:string",
    "NetworkPortMapping": "host_port:uint32! container_port:uint32! protocol:string",
    "NetworkInfo": (
        "ip_addresses:IPAddress* name:string groups:string* labels:Labels "
        "port_mappings:NetworkPortMapping*"
    ),
    "ContainerInfo": (
        "type:@ContainerType! volumes:Volume* hostname:string docker:DockerInfo mesos:MesosInfo "
        "network_infos:NetworkInfo* linux_info:any rlimit_info:any tty_info:any"
    ),
    "HTTPCheck": "port:uint32! path:string scheme:string statuses:uint32* protocol:@Protocol",
    "TCPCheck": "port:uint32! protocol:@Protocol",
    "HealthCheck": (
        "delay_seconds:double=15.0 interval_seconds:double=10.0 timeout_seconds:double=20.0 "
        "consecutive_failures:uint32=3 grace_period_seconds:double=10.0 type:@HealthCheckType "
        "command:CommandInfo http:HTTPCheck tcp:TCPCheck"
    ),
    "CheckCommand": "command:CommandInfo!",
    "CheckHTTP": "port:uint32! path:string",
    "CheckTCP": "port:uint32!",
    "CheckInfo": (
        "type:@CheckType command:CheckCommand http:CheckHTTP tcp:CheckTCP "
        "delay_seconds:double=15.0 interval_seconds:double=10.0 timeout_seconds:double=20.0"
    ),
    "KillPolicy": "grace_period:DurationInfo",
    "DiscoveryPort": (
        "number:uint32! name:string protocol:string visibility:@Visibility labels:Labels"
    ),
    "DiscoveryPorts": "ports:DiscoveryPort*",
    "DiscoveryInfo": (
        "visibility:@Visibility! name:string environment:string location:string version:string "
        "ports:DiscoveryPorts labels:Labels"
    ),
    "ExecutorInfo": (
        "type:@ExecutorType executor_id:ID! framework_id:ID command:CommandInfo "
        "container:ContainerInfo resources:Resource* name:string source:string data:bytes "
        "discovery:DiscoveryInfo shutdown_grace_period:DurationInfo labels:Labels"
    ),
    "TaskInfo": (
        "name:string! task_id:ID! agent_id:ID! resources:Resource* executor:ExecutorInfo "
        "command:CommandInfo container:ContainerInfo health_check:HealthCheck check:CheckInfo "
        "kill_policy:KillPolicy data:bytes labels:Labels discovery:DiscoveryInfo "
        "max_completion_time:DurationInfo limits:{Scalar}"
    ),
    "TaskGroupInfo": "tasks:TaskInfo*",
    # Offer operations.
    "Launch": "task_infos:TaskInfo*",
    "LaunchGroup": "executor:ExecutorInfo! task_group:TaskGroupInfo!",
    "Reserve": "source:Resource* resources:Resource*",
    "Unreserve": "resources:Resource*",
    "Operation": (
        "type:@OperationType id:ID launch:Launch launch_group:LaunchGroup reserve:Reserve "
        "unreserve:Unreserve create:any destroy:any grow_volume:any shrink_volume:any "
        "create_disk:any destroy_disk:any"
    ),
    # Scheduler calls.
    "Subscribe": (
        "framework_info:FrameworkInfo! force:bool suppressed_roles:string* "
        "offer_constraints:OfferConstraints"
    ),
    "Accept": "offer_ids:ID* operations:Operation* filters:Filters",
    "Decline": "offer_ids:ID* filters:Filters",
    "AcceptInverseOffers": "inverse_offer_ids:ID* filters:Filters",
    "DeclineInverseOffers": "inverse_offer_ids:ID* filters:Filters",
    "Revive": "roles:string*",
    "Suppress": "roles:string*",
    "Kill": "task_id:ID! agent_id:ID kill_policy:KillPolicy",
    "Shutdown": "executor_id:ID! agent_id:ID!",
    "Acknowledge": "agent_id:ID! task_id:ID! uuid:bytes!",
    "AcknowledgeOperationStatus": (
        "agent_id:ID resource_provider_id:ID uuid:bytes! operation_id:ID!"
    ),
    "ReconcileTask": "task_id:ID! agent_id:ID",
    "Reconcile": "tasks:ReconcileTask*",
    "ReconcileOperation": "operation_id:ID! agent_id:ID resource_provider_id:ID",
    "ReconcileOperations": "operations:ReconcileOperation*",
    "Message": "agent_id:ID! executor_id:ID! data:bytes!",
    "Request": "agent_id:ID resources:Resource*",
    "Requests": "requests:Request*",
    "UpdateFramework": (
        "framework_info:FrameworkInfo! suppressed_roles:string* offer_constraints:OfferConstraints"
    ),
    "Call": (
        "framework_id:ID type:@CallType subscribe:Subscribe accept:Accept decline:Decline "
        "accept_inverse_offers:AcceptInverseOffers decline_inverse_offers:DeclineInverseOffers "
        "revive:Revive kill:Kill shutdown:Shutdown acknowledge:Acknowledge "
        "acknowledge_operation_status:AcknowledgeOperationStatus reconcile:Reconcile "
        "reconcile_operations:ReconcileOperations message:Message request:Requests "
        "suppress:Suppress update_framework:UpdateFramework"
    ),
    # Operator calls (master).
    "GetMetrics": "timeout:DurationInfo",
    "OperatorTeardown": "framework_id:ID!",
    "MarkAgentGone": "agent_id:ID!",
    "MasterCall": (
        "type:@MasterCallType get_metrics:GetMetrics teardown:OperatorTeardown "
        "mark_agent_gone:MarkAgentGone set_logging_level:any list_files:any read_file:any "
        "update_weights:any reserve_resources:any unreserve_resources:any create_volumes:any "
        "destroy_volumes:any grow_volume:any shrink_volume:any update_maintenance_schedule:any "
        "start_maintenance:any stop_maintenance:any drain_agent:any deactivate_agent:any "
        "reactivate_agent:any update_quota:any set_quota:any remove_quota:any"
    ),
}

PRIMITIVES = frozenset({"string", "bytes", "double", "bool", "int32", "int64", "uint32", "uint64"})


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # a primitive, "enum", "message", "map" or "any"
    target: str  # enum or message name (for maps: the value's type)
    required: bool
    repeated: bool
    default: object


def _parse_default(kind: str, raw: str) -> object:
    if kind == "bool":
        return raw == "true"
    if kind == "double":
        return float(raw)
    if kind in {"int32", "int64", "uint32", "uint64"}:
        return int(raw)
    return raw


def _parse_field(token: str) -> Field:
    name, _, spec = token.partition(":")
    default: object = None
    if "=" in spec:
        spec, _, raw_default = spec.partition("=")
    else:
        raw_default = ""
    required = spec.endswith("!")
    repeated = spec.endswith("*")
    spec = spec.rstrip("!*")
    if spec.startswith("{"):
        kind, target = "map", spec[1:-1]
    elif spec.startswith("@"):
        kind, target = "enum", spec[1:]
    elif spec in PRIMITIVES or spec == "any":
        kind, target = spec, spec
    else:
        kind, target = "message", spec
    if raw_default:
        default = _parse_default(kind, raw_default)
    return Field(name, kind, target, required, repeated, default)


MESSAGES: dict[str, dict[str, Field]] = {
    message: {f.name: f for f in map(_parse_field, spec.split())}
    for message, spec in _MESSAGES.items()
}
