import { BadRequestError, NotFoundError } from '../errors';
import { CONNECTOR_ID, newConnectorId, newWebhookKey } from '../ids';
import type { Logger } from '../log';
import { decodeCursor, encodeCursor } from '../pagination';
import type { SecretBox } from '../secret-box';
import { plivoTokenContext, toView, type Connector, type ConnectorChanges, type ConnectorView } from './model';
import type { CreateConnectorInput, UpdateConnectorInput } from './schema';
import type { RoutingRuleStore } from '../routing/store';
import type { ConnectorStore } from './store';
import type { RoomService } from '../room-records/service';

export interface ConnectorList {
  readonly items: readonly ConnectorView[];
  readonly nextCursor: string | null;
}

/** Connector use cases, each scoped to the calling tenant: another tenant's connector does not exist. */
export class ConnectorService {
  constructor(
    private readonly store: ConnectorStore,
    private readonly rules: RoutingRuleStore,
    private readonly box: SecretBox,
    private readonly publicUrl: string,
    private readonly log: Logger,
    /** Read to refuse a `defaultRoomId` that exists and is deactivated. */
    private readonly rooms: Pick<RoomService, 'checkUsable'>,
  ) {}

  async create(tenant: string, input: CreateConnectorInput): Promise<ConnectorView> {
    await this.checkRule(tenant, input.defaultRuleId);
    await this.rooms.checkUsable(tenant, input.defaultRoomId, 'defaultRoomId');
    const id = newConnectorId();
    const now = new Date().toISOString();
    const connector: Connector = {
      id,
      tenant,
      provider: input.provider,
      name: input.name ?? null,
      defaultRoomId: input.defaultRoomId ?? null,
      defaultRuleId: input.defaultRuleId ?? null,
      region: input.region ?? null,
      webhookKey: newWebhookKey(),
      plivoAuthId: input.plivoAuthId ?? null,
      plivoAuthToken: input.plivoAuthToken ? await this.box.seal(input.plivoAuthToken, plivoTokenContext(tenant, id)) : null,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.create(connector);
    this.log.info('connector created', { tenant, connectorId: id });
    return toView(connector, this.publicUrl);
  }

  async list(tenant: string, limit: number, cursor?: string): Promise<ConnectorList> {
    const page = await this.store.list(tenant, limit, cursor === undefined ? undefined : decodeCursor(cursor, CONNECTOR_ID));
    return {
      items: page.items.map((c) => toView(c, this.publicUrl)),
      nextCursor: page.lastId && encodeCursor(page.lastId),
    };
  }

  async get(tenant: string, id: string): Promise<ConnectorView> {
    const connector = found(id, validId(id) && (await this.store.get(tenant, id)));
    return toView(connector, this.publicUrl);
  }

  async update(tenant: string, id: string, input: UpdateConnectorInput): Promise<ConnectorView> {
    found(id, validId(id));
    await this.checkRule(tenant, input.defaultRuleId);
    await this.rooms.checkUsable(tenant, input.defaultRoomId, 'defaultRoomId');
    const { plivoAuthToken, ...rest } = input;
    const changes: ConnectorChanges = {
      ...rest,
      ...(plivoAuthToken !== undefined && {
        plivoAuthToken: plivoAuthToken === null ? null : await this.box.seal(plivoAuthToken, plivoTokenContext(tenant, id)),
      }),
    };
    const updated = found(id, await this.store.update(tenant, id, changes, new Date().toISOString()));
    this.log.info('connector updated', { tenant, connectorId: id, fields: Object.keys(input) });
    return toView(updated, this.publicUrl);
  }

  async rotateKey(tenant: string, id: string): Promise<ConnectorView> {
    const rotated = found(id, validId(id) && (await this.store.rotateKey(tenant, id, newWebhookKey(), new Date().toISOString())));
    this.log.info('connector webhook key rotated', { tenant, connectorId: id });
    return toView(rotated, this.publicUrl);
  }

  /** A connector's defaultRuleId must name one of the tenant's rules. */
  private async checkRule(tenant: string, ruleId: string | null | undefined): Promise<void> {
    if (ruleId && !(await this.rules.get(tenant, ruleId))) {
      const message = `no routing rule ${ruleId} exists`;
      throw new BadRequestError(`Invalid request body: defaultRuleId: ${message}`, [{ field: 'defaultRuleId', message }]);
    }
  }

  async delete(tenant: string, id: string): Promise<ConnectorView> {
    const deleted = found(id, validId(id) && (await this.store.delete(tenant, id)));
    this.log.info('connector deleted', { tenant, connectorId: id });
    return toView(deleted, this.publicUrl);
  }
}

/** A malformed id is as absent as an unknown one: same 404, no database call. */
const validId = (id: string): boolean => CONNECTOR_ID.test(id);

function found<T>(id: string, value: T | false | null): T {
  if (value === false || value === null) throw new NotFoundError(`Connector ${id} not found`);
  return value;
}
