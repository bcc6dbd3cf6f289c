from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImageFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_FORMAT_UNSPECIFIED: _ClassVar[ImageFormat]
    IMAGE_FORMAT_PNG: _ClassVar[ImageFormat]
    IMAGE_FORMAT_JPEG: _ClassVar[ImageFormat]
    IMAGE_FORMAT_WEBP: _ClassVar[ImageFormat]
    IMAGE_FORMAT_RAW_RGBA8: _ClassVar[ImageFormat]
    IMAGE_FORMAT_RAW_BGRA8: _ClassVar[ImageFormat]

class InterpolationSpace(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTERPOLATION_SPACE_UNSPECIFIED: _ClassVar[InterpolationSpace]
    INTERPOLATION_SPACE_W_PLUS_LINEAR: _ClassVar[InterpolationSpace]
    INTERPOLATION_SPACE_W_PLUS_SLERP: _ClassVar[InterpolationSpace]

class MixMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MIX_MODE_UNSPECIFIED: _ClassVar[MixMode]
    MIX_MODE_BLEND: _ClassVar[MixMode]
    MIX_MODE_STYLE: _ClassVar[MixMode]

class PartsSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARTS_SOURCE_UNSPECIFIED: _ClassVar[PartsSource]
    PARTS_SOURCE_SEED: _ClassVar[PartsSource]
    PARTS_SOURCE_CLASSIFIER: _ClassVar[PartsSource]
IMAGE_FORMAT_UNSPECIFIED: ImageFormat
IMAGE_FORMAT_PNG: ImageFormat
IMAGE_FORMAT_JPEG: ImageFormat
IMAGE_FORMAT_WEBP: ImageFormat
IMAGE_FORMAT_RAW_RGBA8: ImageFormat
IMAGE_FORMAT_RAW_BGRA8: ImageFormat
INTERPOLATION_SPACE_UNSPECIFIED: InterpolationSpace
INTERPOLATION_SPACE_W_PLUS_LINEAR: InterpolationSpace
INTERPOLATION_SPACE_W_PLUS_SLERP: InterpolationSpace
MIX_MODE_UNSPECIFIED: MixMode
MIX_MODE_BLEND: MixMode
MIX_MODE_STYLE: MixMode
PARTS_SOURCE_UNSPECIFIED: PartsSource
PARTS_SOURCE_SEED: PartsSource
PARTS_SOURCE_CLASSIFIER: PartsSource

class OutputSpec(_message.Message):
    __slots__ = ("format", "size", "quality", "bottom_up")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    BOTTOM_UP_FIELD_NUMBER: _ClassVar[int]
    format: ImageFormat
    size: int
    quality: int
    bottom_up: bool
    def __init__(self, format: _Optional[_Union[ImageFormat, str]] = ..., size: _Optional[int] = ..., quality: _Optional[int] = ..., bottom_up: _Optional[bool] = ...) -> None: ...

class FaceImage(_message.Message):
    __slots__ = ("data", "format", "width", "height", "row_stride", "bottom_up")
    DATA_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROW_STRIDE_FIELD_NUMBER: _ClassVar[int]
    BOTTOM_UP_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    format: ImageFormat
    width: int
    height: int
    row_stride: int
    bottom_up: bool
    def __init__(self, data: _Optional[bytes] = ..., format: _Optional[_Union[ImageFormat, str]] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., row_stride: _Optional[int] = ..., bottom_up: _Optional[bool] = ...) -> None: ...

class RenderTiming(_message.Message):
    __slots__ = ("queue_us", "compute_us", "encode_us", "batch_size")
    QUEUE_US_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_US_FIELD_NUMBER: _ClassVar[int]
    ENCODE_US_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    queue_us: int
    compute_us: int
    encode_us: int
    batch_size: int
    def __init__(self, queue_us: _Optional[int] = ..., compute_us: _Optional[int] = ..., encode_us: _Optional[int] = ..., batch_size: _Optional[int] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("code", "message", "seq", "field")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    seq: int
    field: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., seq: _Optional[int] = ..., field: _Optional[str] = ...) -> None: ...

class DirectionEdit(_message.Message):
    __slots__ = ("direction", "strength")
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    direction: str
    strength: float
    def __init__(self, direction: _Optional[str] = ..., strength: _Optional[float] = ...) -> None: ...

class PartValue(_message.Message):
    __slots__ = ("part", "value")
    PART_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    part: str
    value: str
    def __init__(self, part: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class CharacterDna(_message.Message):
    __slots__ = ("schema_version", "model_name", "model_version", "generator_sha256", "w_plus", "num_ws", "w_dim", "seed", "truncation_psi", "edits", "checksum")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_SHA256_FIELD_NUMBER: _ClassVar[int]
    W_PLUS_FIELD_NUMBER: _ClassVar[int]
    NUM_WS_FIELD_NUMBER: _ClassVar[int]
    W_DIM_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_PSI_FIELD_NUMBER: _ClassVar[int]
    EDITS_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    model_name: str
    model_version: str
    generator_sha256: str
    w_plus: bytes
    num_ws: int
    w_dim: int
    seed: int
    truncation_psi: float
    edits: _containers.RepeatedCompositeFieldContainer[DirectionEdit]
    checksum: str
    def __init__(self, schema_version: _Optional[int] = ..., model_name: _Optional[str] = ..., model_version: _Optional[str] = ..., generator_sha256: _Optional[str] = ..., w_plus: _Optional[bytes] = ..., num_ws: _Optional[int] = ..., w_dim: _Optional[int] = ..., seed: _Optional[int] = ..., truncation_psi: _Optional[float] = ..., edits: _Optional[_Iterable[_Union[DirectionEdit, _Mapping]]] = ..., checksum: _Optional[str] = ...) -> None: ...

class CharacterSource(_message.Message):
    __slots__ = ("seed", "dna")
    SEED_FIELD_NUMBER: _ClassVar[int]
    DNA_FIELD_NUMBER: _ClassVar[int]
    seed: int
    dna: CharacterDna
    def __init__(self, seed: _Optional[int] = ..., dna: _Optional[_Union[CharacterDna, _Mapping]] = ...) -> None: ...

class FaceResult(_message.Message):
    __slots__ = ("index", "seed", "request_id", "dna", "image", "error", "timing")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DNA_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TIMING_FIELD_NUMBER: _ClassVar[int]
    index: int
    seed: int
    request_id: str
    dna: CharacterDna
    image: FaceImage
    error: ItemError
    timing: RenderTiming
    def __init__(self, index: _Optional[int] = ..., seed: _Optional[int] = ..., request_id: _Optional[str] = ..., dna: _Optional[_Union[CharacterDna, _Mapping]] = ..., image: _Optional[_Union[FaceImage, _Mapping]] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ..., timing: _Optional[_Union[RenderTiming, _Mapping]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "default_model")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MODEL_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    default_model: str
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., default_model: _Optional[str] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class BackendInfo(_message.Message):
    __slots__ = ("backend", "device", "precision", "engine_key", "fallback_reason", "threads", "threads_reason", "precision_mode", "precision_gate", "small_batch_backend", "large_batch_backend", "small_batch_rows")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    ENGINE_KEY_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_REASON_FIELD_NUMBER: _ClassVar[int]
    THREADS_FIELD_NUMBER: _ClassVar[int]
    THREADS_REASON_FIELD_NUMBER: _ClassVar[int]
    PRECISION_MODE_FIELD_NUMBER: _ClassVar[int]
    PRECISION_GATE_FIELD_NUMBER: _ClassVar[int]
    SMALL_BATCH_BACKEND_FIELD_NUMBER: _ClassVar[int]
    LARGE_BATCH_BACKEND_FIELD_NUMBER: _ClassVar[int]
    SMALL_BATCH_ROWS_FIELD_NUMBER: _ClassVar[int]
    backend: str
    device: str
    precision: str
    engine_key: str
    fallback_reason: str
    threads: int
    threads_reason: str
    precision_mode: str
    precision_gate: PrecisionGate
    small_batch_backend: str
    large_batch_backend: str
    small_batch_rows: int
    def __init__(self, backend: _Optional[str] = ..., device: _Optional[str] = ..., precision: _Optional[str] = ..., engine_key: _Optional[str] = ..., fallback_reason: _Optional[str] = ..., threads: _Optional[int] = ..., threads_reason: _Optional[str] = ..., precision_mode: _Optional[str] = ..., precision_gate: _Optional[_Union[PrecisionGate, _Mapping]] = ..., small_batch_backend: _Optional[str] = ..., large_batch_backend: _Optional[str] = ..., small_batch_rows: _Optional[int] = ...) -> None: ...

class PrecisionGate(_message.Message):
    __slots__ = ("passed", "faces", "psnr_min_db", "psnr_median_db", "batch_max_levels", "reason")
    PASSED_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    PSNR_MIN_DB_FIELD_NUMBER: _ClassVar[int]
    PSNR_MEDIAN_DB_FIELD_NUMBER: _ClassVar[int]
    BATCH_MAX_LEVELS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    passed: bool
    faces: int
    psnr_min_db: float
    psnr_median_db: float
    batch_max_levels: int
    reason: str
    def __init__(self, passed: _Optional[bool] = ..., faces: _Optional[int] = ..., psnr_min_db: _Optional[float] = ..., psnr_median_db: _Optional[float] = ..., batch_max_levels: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class DirectionInfo(_message.Message):
    __slots__ = ("name", "description", "layer_start", "layer_end", "kind", "strength_min", "strength_max", "default_strength", "success", "unchanged")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LAYER_START_FIELD_NUMBER: _ClassVar[int]
    LAYER_END_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_MIN_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_MAX_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_STRENGTH_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    layer_start: int
    layer_end: int
    kind: str
    strength_min: float
    strength_max: float
    default_strength: float
    success: float
    unchanged: float
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., layer_start: _Optional[int] = ..., layer_end: _Optional[int] = ..., kind: _Optional[str] = ..., strength_min: _Optional[float] = ..., strength_max: _Optional[float] = ..., default_strength: _Optional[float] = ..., success: _Optional[float] = ..., unchanged: _Optional[float] = ...) -> None: ...

class PartInfo(_message.Message):
    __slots__ = ("name", "values", "classifier_accuracy")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIER_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    name: str
    values: _containers.RepeatedScalarFieldContainer[str]
    classifier_accuracy: float
    def __init__(self, name: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ..., classifier_accuracy: _Optional[float] = ...) -> None: ...

class ServerLimits(_message.Message):
    __slots__ = ("max_batch", "max_unary_items", "max_stream_items", "max_message_bytes", "max_encode_images", "max_encode_pixels", "max_refine_ms")
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    MAX_UNARY_ITEMS_FIELD_NUMBER: _ClassVar[int]
    MAX_STREAM_ITEMS_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_ENCODE_IMAGES_FIELD_NUMBER: _ClassVar[int]
    MAX_ENCODE_PIXELS_FIELD_NUMBER: _ClassVar[int]
    MAX_REFINE_MS_FIELD_NUMBER: _ClassVar[int]
    max_batch: int
    max_unary_items: int
    max_stream_items: int
    max_message_bytes: int
    max_encode_images: int
    max_encode_pixels: int
    max_refine_ms: int
    def __init__(self, max_batch: _Optional[int] = ..., max_unary_items: _Optional[int] = ..., max_stream_items: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., max_encode_images: _Optional[int] = ..., max_encode_pixels: _Optional[int] = ..., max_refine_ms: _Optional[int] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "version", "generator_sha256", "description", "resolution", "z_dim", "w_dim", "num_ws", "supported_sizes", "backend", "directions", "default_truncation_psi", "limits", "data_licence", "parts")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_SHA256_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    Z_DIM_FIELD_NUMBER: _ClassVar[int]
    W_DIM_FIELD_NUMBER: _ClassVar[int]
    NUM_WS_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_SIZES_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    DIRECTIONS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TRUNCATION_PSI_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    DATA_LICENCE_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    generator_sha256: str
    description: str
    resolution: int
    z_dim: int
    w_dim: int
    num_ws: int
    supported_sizes: _containers.RepeatedScalarFieldContainer[int]
    backend: BackendInfo
    directions: _containers.RepeatedCompositeFieldContainer[DirectionInfo]
    default_truncation_psi: float
    limits: ServerLimits
    data_licence: str
    parts: _containers.RepeatedCompositeFieldContainer[PartInfo]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., generator_sha256: _Optional[str] = ..., description: _Optional[str] = ..., resolution: _Optional[int] = ..., z_dim: _Optional[int] = ..., w_dim: _Optional[int] = ..., num_ws: _Optional[int] = ..., supported_sizes: _Optional[_Iterable[int]] = ..., backend: _Optional[_Union[BackendInfo, _Mapping]] = ..., directions: _Optional[_Iterable[_Union[DirectionInfo, _Mapping]]] = ..., default_truncation_psi: _Optional[float] = ..., limits: _Optional[_Union[ServerLimits, _Mapping]] = ..., data_licence: _Optional[str] = ..., parts: _Optional[_Iterable[_Union[PartInfo, _Mapping]]] = ...) -> None: ...

class GenerateRequest(_message.Message):
    __slots__ = ("request_id", "model", "characters", "truncation_psi", "output")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_PSI_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model: str
    characters: _containers.RepeatedCompositeFieldContainer[CharacterSource]
    truncation_psi: float
    output: OutputSpec
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[str] = ..., characters: _Optional[_Iterable[_Union[CharacterSource, _Mapping]]] = ..., truncation_psi: _Optional[float] = ..., output: _Optional[_Union[OutputSpec, _Mapping]] = ...) -> None: ...

class GenerateResponse(_message.Message):
    __slots__ = ("request_id", "results", "timing")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    TIMING_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    results: _containers.RepeatedCompositeFieldContainer[FaceResult]
    timing: RenderTiming
    def __init__(self, request_id: _Optional[str] = ..., results: _Optional[_Iterable[_Union[FaceResult, _Mapping]]] = ..., timing: _Optional[_Union[RenderTiming, _Mapping]] = ...) -> None: ...

class SeedRange(_message.Message):
    __slots__ = ("base_seed", "count")
    BASE_SEED_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    base_seed: int
    count: int
    def __init__(self, base_seed: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class SeedList(_message.Message):
    __slots__ = ("seeds",)
    SEEDS_FIELD_NUMBER: _ClassVar[int]
    seeds: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, seeds: _Optional[_Iterable[int]] = ...) -> None: ...

class GenerateBatchRequest(_message.Message):
    __slots__ = ("request_id", "model", "range", "list", "start_index", "truncation_psi", "output", "progress_every")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    START_INDEX_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_PSI_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_EVERY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model: str
    range: SeedRange
    list: SeedList
    start_index: int
    truncation_psi: float
    output: OutputSpec
    progress_every: int
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[str] = ..., range: _Optional[_Union[SeedRange, _Mapping]] = ..., list: _Optional[_Union[SeedList, _Mapping]] = ..., start_index: _Optional[int] = ..., truncation_psi: _Optional[float] = ..., output: _Optional[_Union[OutputSpec, _Mapping]] = ..., progress_every: _Optional[int] = ...) -> None: ...

class BatchProgress(_message.Message):
    __slots__ = ("request_id", "completed", "failed", "total")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    completed: int
    failed: int
    total: int
    def __init__(self, request_id: _Optional[str] = ..., completed: _Optional[int] = ..., failed: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class BatchSummary(_message.Message):
    __slots__ = ("request_id", "total", "skipped", "produced", "failed", "timing", "wall_us")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    PRODUCED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    TIMING_FIELD_NUMBER: _ClassVar[int]
    WALL_US_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    total: int
    skipped: int
    produced: int
    failed: int
    timing: RenderTiming
    wall_us: int
    def __init__(self, request_id: _Optional[str] = ..., total: _Optional[int] = ..., skipped: _Optional[int] = ..., produced: _Optional[int] = ..., failed: _Optional[int] = ..., timing: _Optional[_Union[RenderTiming, _Mapping]] = ..., wall_us: _Optional[int] = ...) -> None: ...

class GenerateBatchEvent(_message.Message):
    __slots__ = ("item", "progress", "summary")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    item: FaceResult
    progress: BatchProgress
    summary: BatchSummary
    def __init__(self, item: _Optional[_Union[FaceResult, _Mapping]] = ..., progress: _Optional[_Union[BatchProgress, _Mapping]] = ..., summary: _Optional[_Union[BatchSummary, _Mapping]] = ...) -> None: ...

class EditStart(_message.Message):
    __slots__ = ("request_id", "model", "dna", "output")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DNA_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model: str
    dna: CharacterDna
    output: OutputSpec
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[str] = ..., dna: _Optional[_Union[CharacterDna, _Mapping]] = ..., output: _Optional[_Union[OutputSpec, _Mapping]] = ...) -> None: ...

class MixSpec(_message.Message):
    __slots__ = ("other", "weight", "layer_start", "layer_end")
    OTHER_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    LAYER_START_FIELD_NUMBER: _ClassVar[int]
    LAYER_END_FIELD_NUMBER: _ClassVar[int]
    other: CharacterDna
    weight: float
    layer_start: int
    layer_end: int
    def __init__(self, other: _Optional[_Union[CharacterDna, _Mapping]] = ..., weight: _Optional[float] = ..., layer_start: _Optional[int] = ..., layer_end: _Optional[int] = ...) -> None: ...

class EditState(_message.Message):
    __slots__ = ("seq", "edits", "mix", "truncation_psi", "output", "set_parts")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    EDITS_FIELD_NUMBER: _ClassVar[int]
    MIX_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_PSI_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    SET_PARTS_FIELD_NUMBER: _ClassVar[int]
    seq: int
    edits: _containers.RepeatedCompositeFieldContainer[DirectionEdit]
    mix: MixSpec
    truncation_psi: float
    output: OutputSpec
    set_parts: _containers.RepeatedCompositeFieldContainer[PartValue]
    def __init__(self, seq: _Optional[int] = ..., edits: _Optional[_Iterable[_Union[DirectionEdit, _Mapping]]] = ..., mix: _Optional[_Union[MixSpec, _Mapping]] = ..., truncation_psi: _Optional[float] = ..., output: _Optional[_Union[OutputSpec, _Mapping]] = ..., set_parts: _Optional[_Iterable[_Union[PartValue, _Mapping]]] = ...) -> None: ...

class EditCommit(_message.Message):
    __slots__ = ("seq",)
    SEQ_FIELD_NUMBER: _ClassVar[int]
    seq: int
    def __init__(self, seq: _Optional[int] = ...) -> None: ...

class EditRequest(_message.Message):
    __slots__ = ("start", "state", "commit")
    START_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    start: EditStart
    state: EditState
    commit: EditCommit
    def __init__(self, start: _Optional[_Union[EditStart, _Mapping]] = ..., state: _Optional[_Union[EditState, _Mapping]] = ..., commit: _Optional[_Union[EditCommit, _Mapping]] = ...) -> None: ...

class EditStarted(_message.Message):
    __slots__ = ("session_id", "image")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    image: FaceImage
    def __init__(self, session_id: _Optional[str] = ..., image: _Optional[_Union[FaceImage, _Mapping]] = ...) -> None: ...

class EditPreview(_message.Message):
    __slots__ = ("seq", "image", "timing", "skipped")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TIMING_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    seq: int
    image: FaceImage
    timing: RenderTiming
    skipped: int
    def __init__(self, seq: _Optional[int] = ..., image: _Optional[_Union[FaceImage, _Mapping]] = ..., timing: _Optional[_Union[RenderTiming, _Mapping]] = ..., skipped: _Optional[int] = ...) -> None: ...

class EditCommitted(_message.Message):
    __slots__ = ("seq", "dna")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    DNA_FIELD_NUMBER: _ClassVar[int]
    seq: int
    dna: CharacterDna
    def __init__(self, seq: _Optional[int] = ..., dna: _Optional[_Union[CharacterDna, _Mapping]] = ...) -> None: ...

class EditEvent(_message.Message):
    __slots__ = ("started", "preview", "committed", "error")
    STARTED_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    started: EditStarted
    preview: EditPreview
    committed: EditCommitted
    error: ItemError
    def __init__(self, started: _Optional[_Union[EditStarted, _Mapping]] = ..., preview: _Optional[_Union[EditPreview, _Mapping]] = ..., committed: _Optional[_Union[EditCommitted, _Mapping]] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ...) -> None: ...

class InterpolateRequest(_message.Message):
    __slots__ = ("request_id", "model", "source", "target", "frames", "space", "output", "via")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    VIA_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model: str
    source: CharacterDna
    target: CharacterDna
    frames: int
    space: InterpolationSpace
    output: OutputSpec
    via: _containers.RepeatedCompositeFieldContainer[CharacterDna]
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[str] = ..., source: _Optional[_Union[CharacterDna, _Mapping]] = ..., target: _Optional[_Union[CharacterDna, _Mapping]] = ..., frames: _Optional[int] = ..., space: _Optional[_Union[InterpolationSpace, str]] = ..., output: _Optional[_Union[OutputSpec, _Mapping]] = ..., via: _Optional[_Iterable[_Union[CharacterDna, _Mapping]]] = ...) -> None: ...

class InterpolateFrame(_message.Message):
    __slots__ = ("index", "t", "image", "dna", "timing")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    T_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    DNA_FIELD_NUMBER: _ClassVar[int]
    TIMING_FIELD_NUMBER: _ClassVar[int]
    index: int
    t: float
    image: FaceImage
    dna: CharacterDna
    timing: RenderTiming
    def __init__(self, index: _Optional[int] = ..., t: _Optional[float] = ..., image: _Optional[_Union[FaceImage, _Mapping]] = ..., dna: _Optional[_Union[CharacterDna, _Mapping]] = ..., timing: _Optional[_Union[RenderTiming, _Mapping]] = ...) -> None: ...

class MixParent(_message.Message):
    __slots__ = ("dna", "weight", "layer_start", "layer_end")
    DNA_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    LAYER_START_FIELD_NUMBER: _ClassVar[int]
    LAYER_END_FIELD_NUMBER: _ClassVar[int]
    dna: CharacterDna
    weight: float
    layer_start: int
    layer_end: int
    def __init__(self, dna: _Optional[_Union[CharacterDna, _Mapping]] = ..., weight: _Optional[float] = ..., layer_start: _Optional[int] = ..., layer_end: _Optional[int] = ...) -> None: ...

class MixRequest(_message.Message):
    __slots__ = ("request_id", "model", "parents", "mode", "output")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model: str
    parents: _containers.RepeatedCompositeFieldContainer[MixParent]
    mode: MixMode
    output: OutputSpec
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[str] = ..., parents: _Optional[_Iterable[_Union[MixParent, _Mapping]]] = ..., mode: _Optional[_Union[MixMode, str]] = ..., output: _Optional[_Union[OutputSpec, _Mapping]] = ...) -> None: ...

class MutateRequest(_message.Message):
    __slots__ = ("request_id", "model", "dna", "count", "strength", "seed", "output")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DNA_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model: str
    dna: CharacterDna
    count: int
    strength: float
    seed: int
    output: OutputSpec
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[str] = ..., dna: _Optional[_Union[CharacterDna, _Mapping]] = ..., count: _Optional[int] = ..., strength: _Optional[float] = ..., seed: _Optional[int] = ..., output: _Optional[_Union[OutputSpec, _Mapping]] = ...) -> None: ...

class RenderPreviewRequest(_message.Message):
    __slots__ = ("request_id", "model", "dna", "edits", "mix", "truncation_psi", "output", "set_parts")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DNA_FIELD_NUMBER: _ClassVar[int]
    EDITS_FIELD_NUMBER: _ClassVar[int]
    MIX_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_PSI_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    SET_PARTS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model: str
    dna: CharacterDna
    edits: _containers.RepeatedCompositeFieldContainer[DirectionEdit]
    mix: MixSpec
    truncation_psi: float
    output: OutputSpec
    set_parts: _containers.RepeatedCompositeFieldContainer[PartValue]
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[str] = ..., dna: _Optional[_Union[CharacterDna, _Mapping]] = ..., edits: _Optional[_Iterable[_Union[DirectionEdit, _Mapping]]] = ..., mix: _Optional[_Union[MixSpec, _Mapping]] = ..., truncation_psi: _Optional[float] = ..., output: _Optional[_Union[OutputSpec, _Mapping]] = ..., set_parts: _Optional[_Iterable[_Union[PartValue, _Mapping]]] = ...) -> None: ...

class RenderPreviewResponse(_message.Message):
    __slots__ = ("request_id", "image", "dna", "timing")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    DNA_FIELD_NUMBER: _ClassVar[int]
    TIMING_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    image: FaceImage
    dna: CharacterDna
    timing: RenderTiming
    def __init__(self, request_id: _Optional[str] = ..., image: _Optional[_Union[FaceImage, _Mapping]] = ..., dna: _Optional[_Union[CharacterDna, _Mapping]] = ..., timing: _Optional[_Union[RenderTiming, _Mapping]] = ...) -> None: ...

class EncodeRequest(_message.Message):
    __slots__ = ("request_id", "model", "images", "output", "refine_steps", "refine_budget_ms", "return_aligned")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    REFINE_STEPS_FIELD_NUMBER: _ClassVar[int]
    REFINE_BUDGET_MS_FIELD_NUMBER: _ClassVar[int]
    RETURN_ALIGNED_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model: str
    images: _containers.RepeatedCompositeFieldContainer[FaceImage]
    output: OutputSpec
    refine_steps: int
    refine_budget_ms: int
    return_aligned: bool
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[str] = ..., images: _Optional[_Iterable[_Union[FaceImage, _Mapping]]] = ..., output: _Optional[_Union[OutputSpec, _Mapping]] = ..., refine_steps: _Optional[int] = ..., refine_budget_ms: _Optional[int] = ..., return_aligned: _Optional[bool] = ...) -> None: ...

class EncodedPicture(_message.Message):
    __slots__ = ("index", "aligned", "psnr_db", "attribute_agreement", "distance", "realigned")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ALIGNED_FIELD_NUMBER: _ClassVar[int]
    PSNR_DB_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    REALIGNED_FIELD_NUMBER: _ClassVar[int]
    index: int
    aligned: FaceImage
    psnr_db: float
    attribute_agreement: float
    distance: float
    realigned: bool
    def __init__(self, index: _Optional[int] = ..., aligned: _Optional[_Union[FaceImage, _Mapping]] = ..., psnr_db: _Optional[float] = ..., attribute_agreement: _Optional[float] = ..., distance: _Optional[float] = ..., realigned: _Optional[bool] = ...) -> None: ...

class EncodeScores(_message.Message):
    __slots__ = ("psnr_db", "attribute_agreement", "spread", "refine_steps", "refine_us")
    PSNR_DB_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_AGREEMENT_FIELD_NUMBER: _ClassVar[int]
    SPREAD_FIELD_NUMBER: _ClassVar[int]
    REFINE_STEPS_FIELD_NUMBER: _ClassVar[int]
    REFINE_US_FIELD_NUMBER: _ClassVar[int]
    psnr_db: float
    attribute_agreement: float
    spread: float
    refine_steps: int
    refine_us: int
    def __init__(self, psnr_db: _Optional[float] = ..., attribute_agreement: _Optional[float] = ..., spread: _Optional[float] = ..., refine_steps: _Optional[int] = ..., refine_us: _Optional[int] = ...) -> None: ...

class EncodeResponse(_message.Message):
    __slots__ = ("request_id", "dna", "image", "timing", "scores", "pictures")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DNA_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TIMING_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    PICTURES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    dna: CharacterDna
    image: FaceImage
    timing: RenderTiming
    scores: EncodeScores
    pictures: _containers.RepeatedCompositeFieldContainer[EncodedPicture]
    def __init__(self, request_id: _Optional[str] = ..., dna: _Optional[_Union[CharacterDna, _Mapping]] = ..., image: _Optional[_Union[FaceImage, _Mapping]] = ..., timing: _Optional[_Union[RenderTiming, _Mapping]] = ..., scores: _Optional[_Union[EncodeScores, _Mapping]] = ..., pictures: _Optional[_Iterable[_Union[EncodedPicture, _Mapping]]] = ...) -> None: ...

class ReadPart(_message.Message):
    __slots__ = ("part", "value", "confidence")
    PART_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    part: str
    value: str
    confidence: float
    def __init__(self, part: _Optional[str] = ..., value: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class FaceParts(_message.Message):
    __slots__ = ("index", "source", "parts")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    index: int
    source: PartsSource
    parts: _containers.RepeatedCompositeFieldContainer[ReadPart]
    def __init__(self, index: _Optional[int] = ..., source: _Optional[_Union[PartsSource, str]] = ..., parts: _Optional[_Iterable[_Union[ReadPart, _Mapping]]] = ...) -> None: ...

class GetPartsRequest(_message.Message):
    __slots__ = ("request_id", "model", "characters")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model: str
    characters: _containers.RepeatedCompositeFieldContainer[CharacterSource]
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[str] = ..., characters: _Optional[_Iterable[_Union[CharacterSource, _Mapping]]] = ...) -> None: ...

class GetPartsResponse(_message.Message):
    __slots__ = ("request_id", "faces")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    faces: _containers.RepeatedCompositeFieldContainer[FaceParts]
    def __init__(self, request_id: _Optional[str] = ..., faces: _Optional[_Iterable[_Union[FaceParts, _Mapping]]] = ...) -> None: ...
