import { NotFoundError } from '../errors';
import type { NumberedPage, PageRequest } from '../pagination';
import { CALL_ID, toCallView, type CallView } from './model';
import type { CallFilter } from './schema';
import type { CallStore } from './store';

/** The SIP call log: read-only through the API, scoped to the calling tenant, shown as webhooks show calls. */
export class CallService {
  constructor(private readonly calls: CallStore) {}

  async list(tenant: string, filter: CallFilter, request: PageRequest): Promise<NumberedPage<CallView>> {
    const { data, pageInfo } = await this.calls.page(tenant, filter, request);
    return { data: data.map(toCallView), pageInfo };
  }

  async get(tenant: string, id: string): Promise<CallView> {
    const call = CALL_ID.test(id) ? await this.calls.get(tenant, id) : null;
    if (!call) throw new NotFoundError(`Call ${id} not found`);
    return toCallView(call);
  }
}
