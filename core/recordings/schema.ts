import { z } from 'zod';
import { ROOM_ID, ROOM_ID_RULE } from '../connectors/schema';
import { RECORDING_ID, SESSION_ID } from '../ids';
import { numberedPageSchema, pageQuerySchema } from '../pagination';
import { RECORDING_KINDS, RECORDING_STATUSES } from './model';

const roomRef = z.string().regex(ROOM_ID, `must be ${ROOM_ID_RULE}`);
const recordingId = z.string().regex(RECORDING_ID, 'must be a recording id (rec_…)');

/** What `awsDirPath` takes, as its error says it. */
export const AWS_DIR_PATH_RULE = '1-256 characters of A-Z a-z 0-9 / _ - ., without `..`, `//` or a leading or trailing `/`';

/** A key prefix under the tenant's: no way out of it (`..`), no empty segment. */
const awsDirPath = z
  .string()
  .regex(/^[A-Za-z0-9/_.-]{1,256}$/, `must be ${AWS_DIR_PATH_RULE}`)
  .refine((path) => !path.includes('..') && !path.includes('//') && !path.startsWith('/') && !path.endsWith('/'), `must be ${AWS_DIR_PATH_RULE}`);

/** `POST /v2/recordings/start`: records the room's mix from now until `/v2/recordings/end`, or its session's end. */
export const startRecordingSchema = z
  .strictObject({
    roomId: roomRef.meta({ description: 'The room (`roomId` or `customRoomId`): it must have a live session' }),
    webhookUrl: z.string().trim().max(2048, 'must be at most 2048 characters').optional().meta({ description: 'Also told this recording’s events (public https, as webhook URLs)' }),
    awsDirPath: awsDirPath.optional().meta({ description: 'A key prefix under the tenant’s in the recordings bucket' }),
  })
  .meta({ id: 'RecordingStart' });
export type StartRecordingInput = z.output<typeof startRecordingSchema>;

/** `POST /v2/recordings/end`: the room's room recording, or its recording `id` (a call's too). */
export const endRecordingSchema = z
  .strictObject({
    roomId: roomRef.meta({ description: 'The room (`roomId` or `customRoomId`)' }),
    id: recordingId.optional().meta({ description: 'One of the room’s recordings in progress (a call’s too); by default its room recording' }),
  })
  .meta({ id: 'RecordingEnd' });

/** `GET /v2/recordings`: a page of the tenant's recordings, newest first, filtered. */
export const listRecordingsQuerySchema = pageQuerySchema.extend({
  roomId: roomRef.optional().meta({ description: 'The room (`roomId` or `customRoomId`)' }),
  sessionId: z.string().regex(SESSION_ID, 'must be a session id (ss_…)').optional(),
});

const timestamp = z.iso.datetime();

/** A recording as the API shows it (`RecordingView`). */
export const recordingSchema = z
  .strictObject({
    id: z.string().regex(RECORDING_ID),
    roomId: z.string(),
    customRoomId: z.string().nullable(),
    sessionId: z.string(),
    callId: z.string().nullable().meta({ description: 'The call (`GET /v2/sip/call/{id}`) of a call recording; null for a room’s' }),
    kind: z.enum(RECORDING_KINDS).meta({ description: '`room`: the room’s mix, mono; `call`: one call, left what the caller said, right what it heard' }),
    status: z.enum(RECORDING_STATUSES),
    start: timestamp.meta({ description: 'When its audio begins (the file’s first sample)' }),
    end: timestamp.nullable().meta({ description: 'Null while recording' }),
    reason: z.string().nullable().meta({ description: 'Why it is `partial` or `failed`; null otherwise' }),
    file: z.strictObject({
      fileUrl: z.string().nullable().meta({ description: 'A presigned GET of the WAV, expiring (15 minutes by default); null until the file is written, and in webhook events' }),
      size: z.number().int().nullable().meta({ description: 'Bytes' }),
      duration: z.number().nullable().meta({ description: 'Seconds of audio' }),
      format: z.literal('wav'),
      channels: z.union([z.literal(1), z.literal(2)]),
      sampleRate: z.number().int(),
    }),
  })
  .meta({ id: 'Recording' });

/** What `POST /v2/recordings/start` answers (VideoSDK's shape). */
export const recordingStartedSchema = z
  .strictObject({ recordingId: z.string().regex(RECORDING_ID), roomId: z.string(), sessionId: z.string(), status: z.literal('recording') })
  .meta({ id: 'RecordingStarted' });

export const recordingPageSchema = numberedPageSchema(recordingSchema);
