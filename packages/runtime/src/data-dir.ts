import { homedir, platform } from 'node:os';
import { join } from 'node:path';

/**
 * Where a node keeps its state when `--data` is not given: $POSTERN_DATA_DIR, else the platform's
 * per-user data home ($XDG_DATA_HOME or ~/.local/share on Linux).
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['POSTERN_DATA_DIR'];
  if (explicit) return explicit;
  const home = homedir();
  switch (platform()) {
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'postern');
    case 'win32':
      return join(env['APPDATA'] ?? join(home, 'AppData', 'Roaming'), 'postern');
    default:
      return join(env['XDG_DATA_HOME'] || join(home, '.local', 'share'), 'postern');
  }
}
