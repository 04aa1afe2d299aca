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
      // Inspection is informational: a tree OPA cannot parse (or an OPA that is busy or misbehaves)
      // still lists, without packages and titles.
      try {
        const result = await this.opa.run(['inspect', '--format', 'json', '--annotations', bundle], { cwd: dir, priority: 'interactive' });
        const parsed = result.exitCode === 0 ? (JSON.parse(result.stdout) as unknown) : undefined;
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as InspectOutput;
        this.logger.warn({ exitCode: result.exitCode, stderr: result.stderr.slice(0, 500) }, 'opa inspect gave no usable answer');
      } catch (error) {
        this.logger.warn({ err: error }, 'opa inspect failed');
      }
      return undefined;
    });
    if (!output) return infos;
    const namespaces = typeof output.namespaces === 'object' && output.namespaces !== null ? output.namespaces : {};
    for (const [namespace, paths] of Object.entries(namespaces)) {
      if (!Array.isArray(paths)) continue;
      for (const path of paths) if (typeof path === 'string' && path.endsWith('.rego')) infos.set(path, { ...infos.get(path), package: namespace.replace(/^data\./, '') });
    }
    for (const entry of Array.isArray(output.annotations) ? output.annotations : []) {
      const file = entry.location?.file;
      const annotations = entry.annotations;
      if (!file || !annotations || !['package', 'subpackages'].includes(annotations.scope ?? '')) continue;
      const info = infos.get(file) ?? {};
      infos.set(file, { ...info, title: info.title ?? annotations.title, description: info.description ?? annotations.description });
    }
    return infos;
  }
}
