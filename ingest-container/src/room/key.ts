/** One key per room of a tenant: another tenant's room of the same id is another room. */
export const roomKey = (tenant: string, roomId: string): string => `${tenant}\u0000${roomId}`;
