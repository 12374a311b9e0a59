// The error a control command fails with: a protocol error code, a message for people, and the field or details at fault.
import type { ErrorBody, ErrorCode } from './protocol.ts';

export class ControlError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: { field?: string; details?: string[] } = {},
  ) {
    super(message);
    this.name = 'ControlError';
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message, ...this.extra };
  }
}
