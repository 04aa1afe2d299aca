import type { Logger } from '../domain/logger.js';
import type { ModuleInfo, PolicyInspector } from '../domain/policies/policy-inspector.js';
import type { OpaCli } from './opa-cli.js';
import { withPolicyBundle } from './policy-bundle-file.js';

interface InspectOutput {
  namespaces?: Record<string, string[]>;
  annotations?: Array<{ annotations?: { title?: string; description?: string; scope?: string }; location?: { file?: string } }>;
}

/** Packages and `# METADATA` annotations as `opa inspect -a` reads them. */
export class OpaPolicyInspector implements PolicyInspector {
  private constructor(private readonly opa: OpaCli, private readonly workDir: string | undefined, private readonly logger: Logger) {}

  static create(options: { opa: OpaCli; workDir?: string; logger: Logger }): OpaPolicyInspector {
    return new OpaPolicyInspector(options.opa, options.workDir, options.logger);
  }

  async inspect(files: ReadonlyArray<{ path: string; content: Buffer }>): Promise<Map<string, ModuleInfo>> {
    const modules = files.filter((file) => file.path.endsWith('.rego'));
    const infos = new Map<string, ModuleInfo>();
    if (modules.length === 0) return infos;
    const output = await withPolicyBundle(modules, this.workDir, async (dir, bundle) => {
      const result = await this.opa.run(['inspect', '--format', 'json', '--annotations', bundle], { cwd: dir });
      if (result.exitCode !== 0) {
        // Inspection is informational: a tree OPA cannot parse still lists, without packages.
        this.logger.warn({ stderr: result.stderr.slice(0, 500) }, 'opa inspect failed');
        return undefined;
      }
      return JSON.parse(result.stdout) as InspectOutput;
    });
    if (!output) return infos;
    for (const [namespace, paths] of Object.entries(output.namespaces ?? {})) {
      for (const path of paths) if (path.endsWith('.rego')) infos.set(path, { ...infos.get(path), package: namespace.replace(/^data\./, '') });
    }
    for (const entry of output.annotations ?? []) {
      const file = entry.location?.file;
      const annotations = entry.annotations;
      if (!file || !annotations || !['package', 'subpackages'].includes(annotations.scope ?? '')) continue;
      const info = infos.get(file) ?? {};
      infos.set(file, { ...info, title: info.title ?? annotations.title, description: info.description ?? annotations.description });
    }
    return infos;
  }
}
