// Registers every sub-command (lazy-loaded, so `repdyn similarity` never loads the HTTP client).
import { register } from '../main.ts';

register('similarity', {
  summary: 'CCA/SVCCA/PWCCA/CKA between two .npy activation files',
  load: () => import('./similarity.ts'),
});

register('admin', {
  summary: 'create-team, create-key, list-keys, revoke-key (needs DATABASE_URL)',
  load: () => import('./admin.ts'),
});

const api: Array<[string, string]> = [
  ['submit', 'SPEC.json [--wait]: submit an experiment (prints its id)'],
  ['estimate', 'SPEC.json: time, memory and warnings of a spec, without submitting it (dry run)'],
  ['presets', 'the named architectures ("architecture": {"preset": …}), their layers and defaults'],
  ['status', 'ID: the experiment as JSON (its warnings also on stderr)'],
  ['watch', 'ID: progress until it ends (exit 0 succeeded, 1 failed, 3 canceled/deleted)'],
  ['list', "[--status S] [--limit N] [--cursor C] [--all]: the team's experiments, newest first"],
  ['cancel', 'ID: cancel a queued or running experiment'],
  ['delete', 'ID: delete an experiment and its results (admin keys; cancels it if running)'],
  ['slice', 'ID [--ref …] [--spec …] [--checkpoint …] [--measure …] --format npy|csv|json -o FILE'],
  ['figures', 'ID -o DIR: Figures 1-3 as SVG'],
  ['share', 'ID: create a read-only share link'],
  ['shares', "ID: the experiment's live share links (id, created, minting key)"],
  ['unshare', 'ID SHARE_ID: revoke a share link (admin keys)'],
];
// every API command takes --json: JSON alone on stdout (watch: one line per change)
for (const [name, summary] of api) {
  register(name, {
    summary,
    load: async () => {
      const mod = await import('./client.ts');
      return { run: (argv: string[]) => mod.run(argv, name) };
    },
  });
}
