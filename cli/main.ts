// The `repdyn` command. Each sub-command lives in cli/commands/<name>.ts and exports `run(argv)`,
// returning the process exit code. The table below is the only place that lists them.
type Command = { summary: string; load: () => Promise<{ run: (argv: string[]) => Promise<number> }> };

const commands: Record<string, Command> = {};

export function register(name: string, command: Command): void {
  commands[name] = command;
}

async function main(argv: string[]): Promise<number> {
  await import('./commands/index.ts');
  const [name, ...rest] = argv;
  const command = name ? commands[name] : undefined;
  if (!command) {
    const lines = Object.entries(commands).map(([n, c]) => `  ${n.padEnd(12)} ${c.summary}`);
    const out = `usage: repdyn <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
    if (name && name !== 'help' && name !== '--help') {
      process.stderr.write(`repdyn: unknown command '${name}'\n\n${out}`);
      return 2;
    }
    process.stdout.write(out);
    return 0;
  }
  const mod = await command.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`repdyn: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
