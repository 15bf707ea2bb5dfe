import { z } from 'zod';
import { listQuerySchema } from '../connectors/schema';
import { CALL_EVENT_TYPES } from '../events';
import { DELIVERY_STATUSES } from './model';

const url = z.string().trim().max(2048, 'must be at most 2048 characters');
const events = z
  .array(z.enum(CALL_EVENT_TYPES, { message: `must be one of ${CALL_EVENT_TYPES.join(', ')}` }))
  .min(1, 'must name at least one event')
  .transform((list) => CALL_EVENT_TYPES.filter((event) => list.includes(event)));

export const createWebhookSchema = z.strictObject({ url, events: events.optional() });

export const updateWebhookSchema = z
  .strictObject({ url: url.optional(), events: events.optional() })
  .refine((body) => body.url !== undefined || body.events !== undefined, { message: 'must change at least one of url, events' });

export const listDeliveriesQuerySchema = listQuerySchema.extend({
  status: z.enum(DELIVERY_STATUSES, { message: `must be one of ${DELIVERY_STATUSES.join(', ')}` }).optional(),
});

export type WebhookBody = z.output<typeof createWebhookSchema>;
export type WebhookUpdate = z.output<typeof updateWebhookSchema>;
