/**
 * The parts of the API's objects the console shows (docs/openapi.json has them whole). The vocabularies come from the
 * modules that own them, at build time (`build.ts`).
 */

/** The values the console's filters offer; `build.ts` fills them in from the modules that own them. */
export interface ConsoleVocabulary {
  readonly callTypes: readonly string[];
  readonly liveStatuses: readonly string[];
  readonly deliveryStatuses: readonly string[];
}

declare const CONSOLE_VOCABULARY: ConsoleVocabulary;
export const VOCABULARY: ConsoleVocabulary = CONSOLE_VOCABULARY;

export interface Connector {
  id: string;
  name: string | null;
  webhookUrl: string;
  defaultRoomId: string | null;
  defaultRuleId: string | null;
  region: string | null;
  plivoAuthIdSet: boolean;
  plivoAuthTokenSet: boolean;
  createdAt: string;
}

export interface Call {
  id: string;
  type: string;
  status: string;
  from: string;
  to: string;
  roomId: string | null;
  connectorId: string;
  region: string | null;
  start: string;
  end: string | null;
  timelog: { status?: string; event?: string; from?: string; to?: string; reason?: string; at: string }[];
  additionalDetails: {
    hangupReason: string | null;
    durationSeconds: number | null;
    agentStatus: string | null;
    stream: { status: string; streamId: string; at: string; degradedCount: number } | null;
    transfer: { to: string; dialtone: boolean; outcome: string | null } | null;
  };
}

export interface Room {
  id: string;
  roomId: string;
  customRoomId: string | null;
  disabled: boolean;
  createdAt: string;
}

export interface Webhook {
  id: string;
  url: string;
  events: string[];
}

export interface Delivery {
  id: string;
  event: string;
  callId: string;
  status: string;
  attempts: { at: string; durationMs: number; statusCode: number | null; error: string | null }[];
  nextAttemptAt: string | null;
  createdAt: string;
}

export interface Agent {
  id: string;
  name: string;
}

/** `GET /v2/sessions` (the sessions API). */
export interface Session {
  id: string;
  roomId: string;
  customRoomId?: string | null;
  start: string;
  status: string;
  region?: string | null;
}

export interface SessionParticipant {
  participantId: string;
  name: string | null;
  kind: string;
  callId?: string | null;
  timelog: { start: string; end: string | null }[];
}
