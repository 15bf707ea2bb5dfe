import { loadControlPlaneConfig } from '../../core/config';
import { apiDependencies, createApiHandler } from './app';

/** Lambda entry for the management API (`/v2/connectors...`). Built once per cold start. */
export const handler = createApiHandler(apiDependencies(loadControlPlaneConfig(process.env)));
