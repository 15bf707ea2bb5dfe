import { loadControlPlaneConfig } from '../../core/config';
import { createSweeper } from './app';

const sweeper = createSweeper(loadControlPlaneConfig(process.env));

/** Lambda entry for the sweeper, run every minute by a schedule. */
export const handler = async (): Promise<void> => {
  await sweeper.sweep();
};
