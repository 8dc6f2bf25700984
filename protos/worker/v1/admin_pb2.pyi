from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetHealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetHealthResponse(_message.Message):
    __slots__ = ("status", "version", "commit", "build_time", "go_version")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    BUILD_TIME_FIELD_NUMBER: _ClassVar[int]
    GO_VERSION_FIELD_NUMBER: _ClassVar[int]
    status: str
    version: str
    commit: str
    build_time: str
    go_version: str
    def __init__(self, status: _Optional[str] = ..., version: _Optional[str] = ..., commit: _Optional[str] = ..., build_time: _Optional[str] = ..., go_version: _Optional[str] = ...) -> None: ...

class GetOverviewRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class OverviewStats(_message.Message):
    __slots__ = ("active_workers", "queued_tasks", "queues", "avg_latency_ms", "p95_latency_ms")
    ACTIVE_WORKERS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_TASKS_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    AVG_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    P95_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    active_workers: int
    queued_tasks: int
    queues: int
    avg_latency_ms: int
    p95_latency_ms: int
    def __init__(self, active_workers: _Optional[int] = ..., queued_tasks: _Optional[int] = ..., queues: _Optional[int] = ..., avg_latency_ms: _Optional[int] = ..., p95_latency_ms: _Optional[int] = ...) -> None: ...

class CoordinationStatus(_message.Message):
    __slots__ = ("global_rate_limit", "leader_lock", "lease", "paused")
    GLOBAL_RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    LEADER_LOCK_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    global_rate_limit: str
    leader_lock: str
    lease: str
    paused: bool
    def __init__(self, global_rate_limit: _Optional[str] = ..., leader_lock: _Optional[str] = ..., lease: _Optional[str] = ..., paused: _Optional[bool] = ...) -> None: ...

class AdminActionCounters(_message.Message):
    __slots__ = ("pause", "resume", "replay")
    PAUSE_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    REPLAY_FIELD_NUMBER: _ClassVar[int]
    pause: int
    resume: int
    replay: int
    def __init__(self, pause: _Optional[int] = ..., resume: _Optional[int] = ..., replay: _Optional[int] = ...) -> None: ...

class GetOverviewResponse(_message.Message):
    __slots__ = ("stats", "coordination", "actions")
    STATS_FIELD_NUMBER: _ClassVar[int]
    COORDINATION_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    stats: OverviewStats
    coordination: CoordinationStatus
    actions: AdminActionCounters
    def __init__(self, stats: _Optional[_Union[OverviewStats, _Mapping]] = ..., coordination: _Optional[_Union[CoordinationStatus, _Mapping]] = ..., actions: _Optional[_Union[AdminActionCounters, _Mapping]] = ...) -> None: ...

class QueueSummary(_message.Message):
    __slots__ = ("name", "ready", "processing", "dead", "weight", "paused")
    NAME_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_FIELD_NUMBER: _ClassVar[int]
    DEAD_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    name: str
    ready: int
    processing: int
    dead: int
    weight: int
    paused: bool
    def __init__(self, name: _Optional[str] = ..., ready: _Optional[int] = ..., processing: _Optional[int] = ..., dead: _Optional[int] = ..., weight: _Optional[int] = ..., paused: _Optional[bool] = ...) -> None: ...

class ListQueuesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListQueuesResponse(_message.Message):
    __slots__ = ("queues",)
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    queues: _containers.RepeatedCompositeFieldContainer[QueueSummary]
    def __init__(self, queues: _Optional[_Iterable[_Union[QueueSummary, _Mapping]]] = ...) -> None: ...

class GetQueueRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetQueueResponse(_message.Message):
    __slots__ = ("queue",)
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    queue: QueueSummary
    def __init__(self, queue: _Optional[_Union[QueueSummary, _Mapping]] = ...) -> None: ...

class UpdateQueueWeightRequest(_message.Message):
    __slots__ = ("name", "weight")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    name: str
    weight: int
    def __init__(self, name: _Optional[str] = ..., weight: _Optional[int] = ...) -> None: ...

class UpdateQueueWeightResponse(_message.Message):
    __slots__ = ("queue",)
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    queue: QueueSummary
    def __init__(self, queue: _Optional[_Union[QueueSummary, _Mapping]] = ...) -> None: ...

class ResetQueueWeightRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ResetQueueWeightResponse(_message.Message):
    __slots__ = ("queue",)
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    queue: QueueSummary
    def __init__(self, queue: _Optional[_Union[QueueSummary, _Mapping]] = ...) -> None: ...

class PauseQueueRequest(_message.Message):
    __slots__ = ("name", "paused")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    name: str
    paused: bool
    def __init__(self, name: _Optional[str] = ..., paused: _Optional[bool] = ...) -> None: ...

class PauseQueueResponse(_message.Message):
    __slots__ = ("queue",)
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    queue: QueueSummary
    def __init__(self, queue: _Optional[_Union[QueueSummary, _Mapping]] = ...) -> None: ...

class ScheduleEntry(_message.Message):
    __slots__ = ("name", "spec", "next_run_ms", "last_run_ms", "durable", "paused")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    NEXT_RUN_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_MS_FIELD_NUMBER: _ClassVar[int]
    DURABLE_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    name: str
    spec: str
    next_run_ms: int
    last_run_ms: int
    durable: bool
    paused: bool
    def __init__(self, name: _Optional[str] = ..., spec: _Optional[str] = ..., next_run_ms: _Optional[int] = ..., last_run_ms: _Optional[int] = ..., durable: _Optional[bool] = ..., paused: _Optional[bool] = ...) -> None: ...

class ScheduleFactory(_message.Message):
    __slots__ = ("name", "durable")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DURABLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    durable: bool
    def __init__(self, name: _Optional[str] = ..., durable: _Optional[bool] = ...) -> None: ...

class ScheduleEvent(_message.Message):
    __slots__ = ("task_id", "name", "spec", "durable", "status", "queue", "started_at_ms", "finished_at_ms", "duration_ms", "result", "error", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    DURABLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    name: str
    spec: str
    durable: bool
    status: str
    queue: str
    started_at_ms: int
    finished_at_ms: int
    duration_ms: int
    result: str
    error: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, task_id: _Optional[str] = ..., name: _Optional[str] = ..., spec: _Optional[str] = ..., durable: _Optional[bool] = ..., status: _Optional[str] = ..., queue: _Optional[str] = ..., started_at_ms: _Optional[int] = ..., finished_at_ms: _Optional[int] = ..., duration_ms: _Optional[int] = ..., result: _Optional[str] = ..., error: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListScheduleFactoriesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListScheduleFactoriesResponse(_message.Message):
    __slots__ = ("factories",)
    FACTORIES_FIELD_NUMBER: _ClassVar[int]
    factories: _containers.RepeatedCompositeFieldContainer[ScheduleFactory]
    def __init__(self, factories: _Optional[_Iterable[_Union[ScheduleFactory, _Mapping]]] = ...) -> None: ...

class ListScheduleEventsRequest(_message.Message):
    __slots__ = ("name", "limit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    limit: int
    def __init__(self, name: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListScheduleEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ScheduleEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[ScheduleEvent, _Mapping]]] = ...) -> None: ...

class ListSchedulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSchedulesResponse(_message.Message):
    __slots__ = ("schedules",)
    SCHEDULES_FIELD_NUMBER: _ClassVar[int]
    schedules: _containers.RepeatedCompositeFieldContainer[ScheduleEntry]
    def __init__(self, schedules: _Optional[_Iterable[_Union[ScheduleEntry, _Mapping]]] = ...) -> None: ...

class CreateScheduleRequest(_message.Message):
    __slots__ = ("name", "spec", "durable")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    DURABLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    spec: str
    durable: bool
    def __init__(self, name: _Optional[str] = ..., spec: _Optional[str] = ..., durable: _Optional[bool] = ...) -> None: ...

class CreateScheduleResponse(_message.Message):
    __slots__ = ("schedule",)
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    schedule: ScheduleEntry
    def __init__(self, schedule: _Optional[_Union[ScheduleEntry, _Mapping]] = ...) -> None: ...

class DeleteScheduleRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteScheduleResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...

class PauseScheduleRequest(_message.Message):
    __slots__ = ("name", "paused")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    name: str
    paused: bool
    def __init__(self, name: _Optional[str] = ..., paused: _Optional[bool] = ...) -> None: ...

class PauseScheduleResponse(_message.Message):
    __slots__ = ("schedule",)
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    schedule: ScheduleEntry
    def __init__(self, schedule: _Optional[_Union[ScheduleEntry, _Mapping]] = ...) -> None: ...

class RunScheduleRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RunScheduleResponse(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class PauseSchedulesRequest(_message.Message):
    __slots__ = ("paused",)
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    paused: bool
    def __init__(self, paused: _Optional[bool] = ...) -> None: ...

class PauseSchedulesResponse(_message.Message):
    __slots__ = ("updated", "paused")
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    updated: int
    paused: bool
    def __init__(self, updated: _Optional[int] = ..., paused: _Optional[bool] = ...) -> None: ...

class JobSpec(_message.Message):
    __slots__ = ("name", "description", "repo", "tag", "path", "dockerfile", "command", "env", "queue", "retries", "timeout_seconds", "source", "tarball_url", "tarball_path", "tarball_sha256")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REPO_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    DOCKERFILE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARBALL_URL_FIELD_NUMBER: _ClassVar[int]
    TARBALL_PATH_FIELD_NUMBER: _ClassVar[int]
    TARBALL_SHA256_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    repo: str
    tag: str
    path: str
    dockerfile: str
    command: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.RepeatedScalarFieldContainer[str]
    queue: str
    retries: int
    timeout_seconds: int
    source: str
    tarball_url: str
    tarball_path: str
    tarball_sha256: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., repo: _Optional[str] = ..., tag: _Optional[str] = ..., path: _Optional[str] = ..., dockerfile: _Optional[str] = ..., command: _Optional[_Iterable[str]] = ..., env: _Optional[_Iterable[str]] = ..., queue: _Optional[str] = ..., retries: _Optional[int] = ..., timeout_seconds: _Optional[int] = ..., source: _Optional[str] = ..., tarball_url: _Optional[str] = ..., tarball_path: _Optional[str] = ..., tarball_sha256: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("spec", "created_at_ms", "updated_at_ms")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    spec: JobSpec
    created_at_ms: int
    updated_at_ms: int
    def __init__(self, spec: _Optional[_Union[JobSpec, _Mapping]] = ..., created_at_ms: _Optional[int] = ..., updated_at_ms: _Optional[int] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("task_id", "name", "status", "queue", "repo", "tag", "path", "dockerfile", "command", "schedule_name", "schedule_spec", "started_at_ms", "finished_at_ms", "duration_ms", "result", "error", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    REPO_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    DOCKERFILE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_SPEC_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    name: str
    status: str
    queue: str
    repo: str
    tag: str
    path: str
    dockerfile: str
    command: str
    schedule_name: str
    schedule_spec: str
    started_at_ms: int
    finished_at_ms: int
    duration_ms: int
    result: str
    error: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, task_id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[str] = ..., queue: _Optional[str] = ..., repo: _Optional[str] = ..., tag: _Optional[str] = ..., path: _Optional[str] = ..., dockerfile: _Optional[str] = ..., command: _Optional[str] = ..., schedule_name: _Optional[str] = ..., schedule_spec: _Optional[str] = ..., started_at_ms: _Optional[int] = ..., finished_at_ms: _Optional[int] = ..., duration_ms: _Optional[int] = ..., result: _Optional[str] = ..., error: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ...) -> None: ...

class ListJobEventsRequest(_message.Message):
    __slots__ = ("name", "limit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    limit: int
    def __init__(self, name: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListJobEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[JobEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[JobEvent, _Mapping]]] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("at_ms", "actor", "request_id", "action", "target", "status", "payload_hash", "detail", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_HASH_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    at_ms: int
    actor: str
    request_id: str
    action: str
    target: str
    status: str
    payload_hash: str
    detail: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, at_ms: _Optional[int] = ..., actor: _Optional[str] = ..., request_id: _Optional[str] = ..., action: _Optional[str] = ..., target: _Optional[str] = ..., status: _Optional[str] = ..., payload_hash: _Optional[str] = ..., detail: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListAuditEventsRequest(_message.Message):
    __slots__ = ("action", "target", "limit")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    action: str
    target: str
    limit: int
    def __init__(self, action: _Optional[str] = ..., target: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListAuditEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class UpsertJobRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: JobSpec
    def __init__(self, spec: _Optional[_Union[JobSpec, _Mapping]] = ...) -> None: ...

class UpsertJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class DeleteJobRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteJobResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...

class RunJobRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RunJobResponse(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class DLQEntry(_message.Message):
    __slots__ = ("id", "queue", "handler", "attempts", "age_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    HANDLER_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    AGE_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    queue: str
    handler: str
    attempts: int
    age_ms: int
    def __init__(self, id: _Optional[str] = ..., queue: _Optional[str] = ..., handler: _Optional[str] = ..., attempts: _Optional[int] = ..., age_ms: _Optional[int] = ...) -> None: ...

class DLQEntryDetail(_message.Message):
    __slots__ = ("id", "queue", "handler", "attempts", "age_ms", "failed_at_ms", "updated_at_ms", "last_error", "payload_size", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    HANDLER_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    AGE_MS_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SIZE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    queue: str
    handler: str
    attempts: int
    age_ms: int
    failed_at_ms: int
    updated_at_ms: int
    last_error: str
    payload_size: int
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., queue: _Optional[str] = ..., handler: _Optional[str] = ..., attempts: _Optional[int] = ..., age_ms: _Optional[int] = ..., failed_at_ms: _Optional[int] = ..., updated_at_ms: _Optional[int] = ..., last_error: _Optional[str] = ..., payload_size: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetDLQEntryRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetDLQEntryResponse(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: DLQEntryDetail
    def __init__(self, entry: _Optional[_Union[DLQEntryDetail, _Mapping]] = ...) -> None: ...

class ListDLQRequest(_message.Message):
    __slots__ = ("limit", "offset", "queue", "handler", "query")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    HANDLER_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    limit: int
    offset: int
    queue: str
    handler: str
    query: str
    def __init__(self, limit: _Optional[int] = ..., offset: _Optional[int] = ..., queue: _Optional[str] = ..., handler: _Optional[str] = ..., query: _Optional[str] = ...) -> None: ...

class ListDLQResponse(_message.Message):
    __slots__ = ("entries", "total")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[DLQEntry]
    total: int
    def __init__(self, entries: _Optional[_Iterable[_Union[DLQEntry, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class PauseDequeueRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PauseDequeueResponse(_message.Message):
    __slots__ = ("paused",)
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    paused: bool
    def __init__(self, paused: _Optional[bool] = ...) -> None: ...

class ResumeDequeueRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResumeDequeueResponse(_message.Message):
    __slots__ = ("paused",)
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    paused: bool
    def __init__(self, paused: _Optional[bool] = ...) -> None: ...

class ReplayDLQRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ReplayDLQResponse(_message.Message):
    __slots__ = ("moved",)
    MOVED_FIELD_NUMBER: _ClassVar[int]
    moved: int
    def __init__(self, moved: _Optional[int] = ...) -> None: ...

class ReplayDLQByIDRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ReplayDLQByIDResponse(_message.Message):
    __slots__ = ("moved",)
    MOVED_FIELD_NUMBER: _ClassVar[int]
    moved: int
    def __init__(self, moved: _Optional[int] = ...) -> None: ...
