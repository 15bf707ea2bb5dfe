/**
 * The API's objects the console shows, from the typed client's schema, and the vocabularies of its filters, which come
 * from the modules that own them at build time (`build.ts`).
 */
import type { components } from '../../../client/src/schema';

/** The values the console's filters offer; `build.ts` fills them in from the modules that own them. */
export interface ConsoleVocabulary {
  readonly callTypes: readonly string[];
  readonly liveStatuses: readonly string[];
  readonly deliveryStatuses: readonly string[];
}

declare const CONSOLE_VOCABULARY: ConsoleVocabulary;
export const VOCABULARY: ConsoleVocabulary = CONSOLE_VOCABULARY;

/** The API's objects, as the typed client's schema (generated from docs/openapi.json) has them: one declaration of each. */
type Schemas = components['schemas'];
export type Connector = Schemas['Connector'];
export type Call = Schemas['Call'];
export type Room = Schemas['Room'];
export type Webhook = Schemas['ListedWebhook'];
export type Delivery = Schemas['Delivery'];
export type Agent = Schemas['Agent'];
export type Session = Schemas['Session'];
export type SessionParticipant = Schemas['SessionParticipant'];
