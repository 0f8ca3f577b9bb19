// Runs the shell scripts engines put into pods against fake commands, so their branches are tested without images.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ScriptRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Each fake command's arguments, one call a line, in the order they were made. */
  calls: string[];
}

/**
 * Runs `script` with `shell` (`sh` is the image's shell for redis, bash for postgres and etcd) after putting the
 * `fakes` — name to bash body — first on the PATH. A fake logs its call and may read `$FAKE_DIR` for state.
 */
export function runScript(shell: string, script: string, env: Record<string, string>, fakes: Record<string, string>): ScriptRun {
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-script-'));
  try {
    const log = join(dir, 'calls');
    writeFileSync(log, '');
    for (const [name, body] of Object.entries(fakes)) {
      const path = join(dir, name);
      writeFileSync(path, `#!/bin/bash\necho "${name} $*" >> "${log}"\n${body}\n`);
      chmodSync(path, 0o755);
    }
    const result = spawnSync(shell, ['-c', script], {
      env: { PATH: `${dir}:/usr/bin:/bin`, FAKE_DIR: dir, ...env },
      encoding: 'utf8',
      timeout: 10_000,
    });
    const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
