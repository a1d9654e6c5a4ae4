/**
 * The shapes the dashboard reads from the service: the contract's types (main/contract/), re-exported so the
 * window's files import them from one place. Nothing is declared here: a shape lives once, in the contract.
 */
export type { BatchErrorEntry, BatchObject, BatchStatus } from '../../main/contract/batches'
export type { DownloadProgress, EngineKind, EngineState, EngineStatus, EngineView, ModelDownloadStart, WarmEngine } from '../../main/contract/engine'
export type { ErrorEnvelope } from '../../main/contract/errors'
export type { StreamEventMap as EventMap, StreamEventName as EventName } from '../../main/contract/events'
export type { FileObject } from '../../main/contract/files'
export type { GpuInfo, GpuSample, GpuStatus, GpuView, ThermalDecision, ThermalView } from '../../main/contract/gpu'
export type { Health, HealthProblem } from '../../main/contract/health'
export type {
  BatchPriority,
  BatchProgress,
  DeadLetter,
  DeadLetterPage,
  Hold,
  HoldKind,
  Job,
  JobPage,
  PauseState,
  PowerWindow,
  PriorityChange,
  QueuePlace,
  ScheduleState,
} from '../../main/contract/jobs'
export type { ModelList, ModelObject } from '../../main/contract/models'
export type { ApiKeyRotation, SettingsField, SettingsPatch, SettingsView } from '../../main/contract/settings'
export type { ArmAnswer, Comparison, ComparisonArm, ComparisonList, ComparisonRow, ComparisonRowPage, ExportFormat, NewComparison, NewVote, Vote, VoteChoice } from '../../main/contract/comparisons'
export type { FinishReasonCount, FinishReasonList, ResultDetail, ResultPage, ResultState, ResultSummary, ResultUsage } from '../../main/contract/results'
export type { NewWebhookEndpoint, WebhookDelivery, WebhookDeliveryPage, WebhookEndpoint, WebhookEndpointCreated, WebhookEndpointList, WebhookEventType } from '../../main/contract/webhooks'
