// Request parts many routes share: the experiment id in the path and the share token in the query.
import { Type } from '@sinclair/typebox';

export const IdParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'experiment id' }) });

/** Spread into a querystring schema of a read route a share link may call. */
export const ShareQuery = {
  share: Type.Optional(Type.String({ description: 'share token, instead of an API key' })),
};
