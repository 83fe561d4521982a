// Registers every sub-command (lazy-loaded, so `repdyn similarity` never loads the HTTP client).
import { register } from '../main.ts';

register('similarity', {
  summary: 'CCA/SVCCA/PWCCA/CKA between two .npy activation files',
  load: () => import('./similarity.ts'),
});

register('admin', {
  summary: 'create-team, create-key, revoke-key (needs DATABASE_URL)',
  load: () => import('./admin.ts'),
});
