import { loadControlPlaneConfig } from '../../core/config';
import { createDeliveryHandler, deliveryDependencies } from './app';

/** Lambda entry for webhook delivery: the webhook queue's event source (batches, partial failures). */
export const handler = createDeliveryHandler(deliveryDependencies(loadControlPlaneConfig(process.env)));
