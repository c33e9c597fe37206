export type StoreErrorCode =
  | 'corrupt_record' // the stored value is not JSON, not an object, or has no known status
  | 'run_exists' // create() with a run id that is taken
  | 'bad_event_id' // events({ after }) with something that is not a stream id
  | 'record_too_large' // commit() of a record over RunStoreOptions.maxRecordBytes
  | 'invalid_argument'
  | 'unexpected_reply'; // a script answered something this version does not know

/** Store failures a caller may want to tell apart (e.g. the API answers 400 to `bad_event_id`). */
export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/** Redis refused a command because the key holds another type (an operator's hand-made key). */
export function isWrongType(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError' && err.message.startsWith('WRONGTYPE');
}
