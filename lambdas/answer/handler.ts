import { loadControlPlaneConfig } from '../../core/config';
import { answerDependencies, createAnswerHandler } from './app';

/** Lambda entry for Plivo's Answer URL (`/v2/hooks/plivo/{whk_key}`). Built once per cold start. */
export const handler = createAnswerHandler(answerDependencies(loadControlPlaneConfig(process.env)));
