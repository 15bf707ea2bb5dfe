/**
 * Defaults of the limits on what one tenant may use, in one place: the functions and the media servers read them
 * when their variable is unset, and the CDK stacks document and pass the same numbers.
 */
export const LIMIT_DEFAULTS = {
  /** `TENANT_RATE_LIMIT`: REST API requests per second per tenant (the API stage allows 100/s, burst 200, in all). */
  tenantRateLimit: 50,
  /** `MAX_ROOMS_PER_TENANT`: rooms one tenant may have placed on one media server at once. */
  maxRoomsPerTenant: 1000,
  /** `MAX_PARTICIPANTS_PER_ROOM`: callers, dialled agents and room-protocol participants in one room. */
  maxParticipantsPerRoom: 100,
  /** `MAX_CONNECTIONS`: connections on one media server at once (the stacks set one per MiB of the task's memory). */
  maxConnections: 2000,
  /** `MAX_CONNECTIONS_PER_TENANT`: one tenant's connections on one media server (the stacks set half of the above). */
  maxConnectionsPerTenant: 1000,
  /** `MAX_RECORDINGS`: recordings one media server writes at once (room and call recordings alike). */
  maxRecordings: 200,
} as const;
