export { checkCron, checkTz, fireTimes } from './cron.js';
export { definitionOf, newScheduleId, OVERLAP, SCHEDULE_ID_RE, ScheduleSpec, validateSchedule } from './schema.js';
export type { Overlap, Schedule, ScheduleSource } from './schema.js';
export { ScheduleStore, type ClaimResult, type ScheduleState, type TickEntry } from './store.js';
export { createScheduleQueue, nextFireTimes, repeatOf, syncScheduler, tickTimeOf, type ScheduleQueue } from './scheduler.js';
export { fireSchedule, type FireDeps, type FireResult, type Tick } from './fire.js';
export { createTickProcessor, ScheduleBusyError, type TickProcessorDeps } from './processor.js';
export { ScheduleService, type ReconcileSummary, type ScheduleServiceDeps, type ScheduleView } from './service.js';
export { loadScheduleConfig, ScheduleConfigError } from './config.js';
