// Prisma CLI configuration: JavaScript (WASM) schema engine + pg driver adapter, so every CLI
// command works offline (the binary engines cannot be downloaded here; see shared/docs/STACK.md).
import { defineConfig } from 'prisma/config';
import { loadConfig } from './config/index.ts';
import { CliPrismaPg } from './prisma/cli-adapter.ts';

process.env['CHECKPOINT_DISABLE'] ??= '1';
const { databaseUrl } = loadConfig();
process.env['DATABASE_URL'] ??= databaseUrl;

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  adapter: async () => new CliPrismaPg(process.env['DATABASE_URL'] ?? databaseUrl),
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
